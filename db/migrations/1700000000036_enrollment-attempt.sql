-- Up Migration
-- Which try of its enrollment the agent was last answered for (issue 15). An agent whose try timed out
-- tries again with the same nonce; when the earlier try reaches the server after the later one was
-- answered, it used to replace the credential the agent had just been given, and the device was locked
-- out for good (168 of 10,000 devices in a soak behind a slow proxy). A try older than the one stored
-- now changes nothing. NULL: an agent that does not number its tries (every retry replaces, as before).
ALTER TABLE devices ADD COLUMN enrollment_attempt int;

-- Down Migration
ALTER TABLE devices DROP COLUMN enrollment_attempt;
