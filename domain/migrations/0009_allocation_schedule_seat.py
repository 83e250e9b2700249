"""One seat id (issue 10): an allocation names the trip's inventory row (`schedule_seat_id`),
as forms, audits and seat events already do, instead of the bus seat (`seat_id`).

Existing rows get theirs from `schedule_seats` by (schedule_id, seat_id); an allocation
without an inventory row stops the migration with a message instead of being dropped. The
exclusion constraint moves to the new column (same shape: schedule, seat, stops), and a
two-column foreign key (schedule_seat_id, schedule_id) keeps an allocation's trip and its
inventory row's trip the same. Checkouts not yet paid keep the passengers' bus seat in
`payments.checkout_data`: its key is renamed from `seat_id` to `bus_seat_id`.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class StateOnlyAddField(ops.AddField):
    """Record the field in the migration state; the RunSQL below makes the column (a NOT
    NULL column on a filled table needs its values first)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        return None


class StateOnlyRemoveField(ops.RemoveField):
    """Forget the field in the migration state; the RunSQL below drops the column after the
    backfill has read it."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        return None


FORWARD = """
ALTER TABLE schedule_seats ADD CONSTRAINT schedule_seats_id_schedule UNIQUE (id, schedule_id);
ALTER TABLE seat_allocations ADD COLUMN schedule_seat_id integer;
UPDATE seat_allocations a SET schedule_seat_id = ss.id
FROM schedule_seats ss
WHERE ss.schedule_id = a.schedule_id AND ss.seat_id = a.seat_id;
DO $$
DECLARE orphans bigint;
BEGIN
    SELECT count(*) INTO orphans FROM seat_allocations WHERE schedule_seat_id IS NULL;
    IF orphans > 0 THEN
        RAISE EXCEPTION '% seat allocation(s) name a bus seat without an inventory row on '
            'their trip (schedule_seats): add the rows (admin: generate seats) and migrate '
            'again', orphans;
    END IF;
END $$;
ALTER TABLE seat_allocations
    ALTER COLUMN schedule_seat_id SET NOT NULL,
    ADD CONSTRAINT seat_allocations_schedule_seat_id_fkey
        FOREIGN KEY (schedule_seat_id, schedule_id) REFERENCES schedule_seats (id, schedule_id),
    DROP CONSTRAINT seat_allocations_one_holder_per_segment,
    ADD CONSTRAINT seat_allocations_one_holder_per_segment
        EXCLUDE USING gist (schedule_id WITH =, schedule_seat_id WITH =, stops WITH &&)
        WHERE (active),
    DROP COLUMN seat_id;
UPDATE payments SET checkout_data = jsonb_set(checkout_data, '{passengers}', (
    SELECT jsonb_agg(
        CASE WHEN p ? 'seat_id'
             THEN (p - 'seat_id') || jsonb_build_object('bus_seat_id', p -> 'seat_id')
             ELSE p END
        ORDER BY n)
    FROM jsonb_array_elements(checkout_data -> 'passengers') WITH ORDINALITY AS e(p, n)
))
WHERE jsonb_typeof(checkout_data -> 'passengers') = 'array'
  AND jsonb_array_length(checkout_data -> 'passengers') > 0;
"""

BACKWARD = """
UPDATE payments SET checkout_data = jsonb_set(checkout_data, '{passengers}', (
    SELECT jsonb_agg(
        CASE WHEN p ? 'bus_seat_id'
             THEN (p - 'bus_seat_id') || jsonb_build_object('seat_id', p -> 'bus_seat_id')
             ELSE p END
        ORDER BY n)
    FROM jsonb_array_elements(checkout_data -> 'passengers') WITH ORDINALITY AS e(p, n)
))
WHERE jsonb_typeof(checkout_data -> 'passengers') = 'array'
  AND jsonb_array_length(checkout_data -> 'passengers') > 0;
ALTER TABLE seat_allocations ADD COLUMN seat_id integer REFERENCES seats (id) ON DELETE RESTRICT;
UPDATE seat_allocations a SET seat_id = ss.seat_id
FROM schedule_seats ss WHERE ss.id = a.schedule_seat_id;
ALTER TABLE seat_allocations
    ALTER COLUMN seat_id SET NOT NULL,
    DROP CONSTRAINT seat_allocations_one_holder_per_segment,
    ADD CONSTRAINT seat_allocations_one_holder_per_segment
        EXCLUDE USING gist (schedule_id WITH =, seat_id WITH =, stops WITH &&) WHERE (active),
    DROP COLUMN schedule_seat_id;
ALTER TABLE schedule_seats DROP CONSTRAINT schedule_seats_id_schedule;
"""


class Migration(migrations.Migration):
    dependencies = [("busbook", "0008_safety_limits")]

    initial = False

    operations = [
        StateOnlyAddField(
            model_name="SeatAllocation",
            name="schedule_seat",
            field=fields.ForeignKeyField(
                "busbook.ScheduleSeat",
                source_field="schedule_seat_id",
                db_constraint=True,
                to_field="id",
                related_name="allocations",
                on_delete=fields.NO_ACTION,
            ),
        ),
        ops.RunSQL(FORWARD, reverse_sql=BACKWARD),
        StateOnlyRemoveField(model_name="SeatAllocation", name="seat"),
    ]
