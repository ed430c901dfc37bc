-- spoof.lua: X-Spam-* headers that arrive with the message (any case,
-- repeated) are removed before ours are added.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.16")
local r = send(conn, qid, msg, {
    {"X-Spam-Flag", "YES"},
    {"X-Spam-Status", "Yes, score=1.000 required=0.500"},
    {"x-spam-score", "1.000"},
    {"X-Spam-Flag", "YES"},
    {"X-Spammer-Friendly", "kept"},
})
check(r == SMFIR_CONTINUE, "accepted (reply " .. tostring(r) .. ")")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag"), "forged X-Spam-Flag removed")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Status"), "forged X-Spam-Status removed")
check(mt.eom_check(conn, MT_HDRDELETE, "x-spam-score"), "forged x-spam-score removed")
check(not mt.eom_check(conn, MT_HDRDELETE, "X-Spammer-Friendly"), "a look-alike name is kept")
check_headers(conn, score, required, false)
mt.disconnect(conn)
