-- overload.lua: one of many clients sending at once. With queue_length 1
-- some find the queue full and get on_overload (tempfail, 451); the rest
-- are classified. Any other outcome fails; the runner counts both.
dofile(libdir .. "/lib.lua")
mt.set_timeout(60)
local conn = open("192.0.2.21")
local r = send(conn, qid, msg)
if r == SMFIR_REPLYCODE then
    check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "Busy, try later"), "overload reply is 451 4.7.1 Busy, try later")
    mt.echo("overload")
else
    check(r == SMFIR_CONTINUE, "accepted (reply " .. tostring(r) .. ")")
    check(header(conn, "X-Spam-Status") ~= nil, "classified")
    mt.echo("classified")
end
mt.disconnect(conn)
