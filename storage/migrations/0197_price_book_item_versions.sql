-- Issue 16: the office edits price-book items (name, price, tax, family) and
-- archives them; an edit carries the version the page or client read (If-Match),
-- so two offices editing the same item do not overwrite each other. A job's line
-- keeps the price it was given (copied when it was added), whatever the item becomes.
ALTER TABLE price_book_items ADD COLUMN version integer NOT NULL DEFAULT 0;
