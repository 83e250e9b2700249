// The API's interactive documentation (/docs): swagger-ui (static/vendor/swagger-ui/) over
// the app's own OpenAPI document. An external file, as the Content-Security-Policy allows
// no inline script; no online validator (validatorUrl: null), nothing from a CDN.
(function () {
  "use strict";
  window.addEventListener("DOMContentLoaded", function () {
    window.ui = window.SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      // Try-it-out sends requests to this site only; tokens stay in this page's memory.
      persistAuthorization: false,
      tryItOutEnabled: false,
      displayRequestDuration: true,
      defaultModelsExpandDepth: 0,
    });
  });
})();
