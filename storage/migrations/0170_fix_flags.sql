-- What is uncertain about a stored fix (issue 18), comma-separated; NULL when
-- every field is as the device sent it. ``receive_time``: the device sent no
-- time, the fix is timed by its arrival (less certain evidence);
-- ``dropped:<field>``: an implausible optional field was dropped.
ALTER TABLE fixes ADD COLUMN fix_flags text;
