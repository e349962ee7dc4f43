-- Public online booking (issue 12): the reference a customer quotes for a
-- booking, and the lookups the booking makes without a token.

-- BK-XXXX-XXXX (40 random bits); NULL for bookings made before references.
ALTER TABLE bookings ADD COLUMN reference text UNIQUE;

-- An online booking matches its client by e-mail, in any case.
CREATE INDEX clients_email_lower ON clients (lower(email));
