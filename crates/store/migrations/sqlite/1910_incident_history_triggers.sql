-- Every ticket an incident key has had is recorded in incident_history when the incident first
-- carries it (ticket correlation reads it). Triggers write the row inside the statement that
-- stores the ticket id, so saving an incident is one statement instead of a read and two writes.
CREATE TRIGGER incident_history_on_insert AFTER INSERT ON incidents
    WHEN NEW.ticket_id IS NOT NULL
BEGIN
    INSERT INTO incident_history (key, client, ticket_id, opened_at, flood)
    VALUES (NEW.key, NEW.client, NEW.ticket_id, NEW.last_alert_at, NEW.flood);
END;

CREATE TRIGGER incident_history_on_ticket AFTER UPDATE OF ticket_id ON incidents
    WHEN NEW.ticket_id IS NOT NULL AND NEW.ticket_id IS NOT OLD.ticket_id
BEGIN
    INSERT INTO incident_history (key, client, ticket_id, opened_at, flood)
    VALUES (NEW.key, NEW.client, NEW.ticket_id, NEW.last_alert_at, NEW.flood);
END;
