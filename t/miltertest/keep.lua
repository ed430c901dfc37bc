-- keep.lua: with keep_recent set, delivered mail gets an X-Spam-Id header
-- (12 hex digits); the runner (t/learn.sh) reads the id from the "ID="
-- line and finds the kept copy with llmspam learn --id.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.30")
local r = send(conn, qid, msg)
check(r == SMFIR_CONTINUE, "accepted (reply " .. tostring(r) .. ")")
local id = header(conn, "X-Spam-Id")
check(id ~= nil and id:match("^%x+$") and #id == 12, "X-Spam-Id is 12 hex digits (" .. tostring(id) .. ")")
mt.echo("ID=" .. id)
mt.disconnect(conn)
