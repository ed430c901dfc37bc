-- spam_tag.lua: a message at or over tag_threshold (no reject configured)
-- is delivered flagged: X-Spam-Flag: YES, Status Yes, Subject prefixed.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.11")
local r = send(conn, qid, msg)
check(r == SMFIR_CONTINUE, "accepted (reply " .. tostring(r) .. ")")
check_headers(conn, score, required, true)
local headers = readmsg(msg)
local subject
for _, h in ipairs(headers) do
    if h[1]:lower() == "subject" then subject = h[2] end
end
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[SPAM] " .. subject), "Subject rewritten to '[SPAM] " .. subject .. "'")
mt.disconnect(conn)
