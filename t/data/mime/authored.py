#!/usr/bin/env python3
# authored.py: writes the authored-*.eml fixtures of t/data/mime (written for
# llmspam, same licence as llmspam). Run once by hand; make check never runs
# Python. Each message covers a case the shared fixtures lack.
import base64, os, quopri

here = os.path.dirname(os.path.abspath(__file__))

def write(name, data):
    with open(os.path.join(here, 'authored-' + name + '.eml'), 'wb') as f:
        f.write(data)

def b64(b):
    return base64.encodebytes(b)

H = b'From: Sender <sender@example.org>\nTo: rcpt@example.net\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMIME-Version: 1.0\n'

def qencode_word(s, cs):
    return b'=?' + cs.encode() + b'?b?' + base64.b64encode(s.encode(cs)) + b'?='

write('rfc2047-two-charsets',
      b'From: =?utf-8?b?' + base64.b64encode('Zoë Žák'.encode()) + b'?= <zoe@example.org>\n'
      b'To: rcpt@example.net\nMIME-Version: 1.0\n'
      b'Subject: =?iso-8859-1?q?Caf=E9_cr=E8me?= ' + qencode_word('привет мир', 'koi8-r') + b'\n'
      b'\tand plain words\n'
      b'Content-Type: text/plain; charset=us-ascii\n\nA subject in two charsets.\n')

write('qp-soft-breaks',
      H + b'Subject: quoted-printable soft breaks\n'
      b'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n'
      b'This line is long and is broken by a soft line br=\neak in the middle of a word.\n'
      b'A multibyte character split over a soft break: caf=C3=\n=A9 and na=C3=AF=\nve.\n'
      b'Trailing space encoded=20\nEquals sign =3D and a tab=09here.\n')

write('qp-soft-breaks-crlf',
      (H + b'Subject: quoted-printable soft breaks, CRLF\n'
       b'Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n'
       b'Gr=FC=DFe aus K=F6ln, mit sehr langen Zeilen, die wei=\nch umbrochen werden.\n').replace(b'\n', b'\r\n'))

write('base64-text-iso-8859-2',
      H + b'Subject: base64 text in iso-8859-2\n'
      b'Content-Type: text/plain; charset=iso-8859-2\nContent-Transfer-Encoding: base64\n\n'
      + b64('Zażółć gęślą jaźń.\nPchnąć w tę łódź jeża lub ośm skrzyń fig.\n'.encode('iso-8859-2')))

write('windows-1250',
      H + b'Subject: windows-1250\n'
      b'Content-Type: text/plain; charset=windows-1250\nContent-Transfer-Encoding: 8bit\n\n'
      + 'Příliš žluťoučký kůň úpěl ďábelské ódy – „uvozovky“.\n'.encode('cp1250'))

write('iso-8859-7-raw-subject',
      b'From: sender@example.org\nMIME-Version: 1.0\n'
      b'Subject: ' + 'Καλημέρα κόσμε'.encode('iso-8859-7') + b'\n'
      b'Content-Type: text/plain; charset=iso-8859-7\nContent-Transfer-Encoding: 8bit\n\n'
      + 'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.\n'.encode('iso-8859-7'))

write('gbk',
      H + b'Subject: gbk\n'
      b'Content-Type: text/plain; charset=gbk\nContent-Transfer-Encoding: 8bit\n\n'
      + '朱镕基说：GBK 有 GB2312 没有的字：镕、喆。\n'.encode('gbk'))

write('gb2312-declared-gbk-bytes',
      H + b'Subject: =?gb2312?b?' + base64.b64encode('中文标题'.encode('gb2312')) + b'?=\n'
      b'Content-Type: text/plain; charset=gb2312\nContent-Transfer-Encoding: base64\n\n'
      + b64('声明 gb2312，实为 GBK：朱镕基。\n'.encode('gbk')))

write('shift_jis',
      H + b'Subject: =?shift_jis?b?' + base64.b64encode('日本語の件名'.encode('shift_jis')) + b'?=\n'
      b'Content-Type: text/plain; charset=shift_jis\nContent-Transfer-Encoding: 8bit\n\n'
      + 'こんにちは、世界。半角ｶﾀｶﾅ と ①②③（CP932 の拡張文字）。\n'.encode('cp932'))

write('utf-16le-no-bom',
      H + b'Subject: UTF-16LE without a BOM\n'
      b'Content-Type: text/plain; charset=utf-16le\nContent-Transfer-Encoding: base64\n\n'
      + b64('UTF-16 little endian: Grüße, Привет, 你好.\n'.encode('utf-16-le')))

write('utf-16-bom-html',
      H + b'Subject: UTF-16 HTML with a BOM\n'
      b'Content-Type: text/html; charset=utf-16\nContent-Transfer-Encoding: base64\n\n'
      + b64('<html><body><p>UTF-16 HTML: déjà vu</p></body></html>\n'.encode('utf-16')))

write('html-only-links-hidden',
      H + b'Subject: HTML only, links and hidden text\n'
      b'Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
      b'<!DOCTYPE html><html><head><title>Title is dropped</title>'
      b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
      b'<style>p { color: red }</style><script>var dropped = 1;</script></head>\n'
      b'<body><!-- a comment, dropped -->\n<h1>Cheap   meds</h1>\n'
      b'<p>Click <a href="http://spam.example/buy?id=1">here</a> or visit '
      b'<a href="http://www.example.com/">http://www.example.com/</a>.</p>\n'
      b'<p>Write to <a href="mailto:sales@example.com">sales@example.com</a>.'
      b'<a href="#top">Top</a> <a href="http://img.example/x"><img src="x.gif"></a></p>\n'
      b'<div style="display: none">hidden by display none</div>'
      b'<span style="font-size:0px">hidden by zero font size</span>'
      b'<span style="font-size:0.8em">small but visible</span>'
      b'<p hidden>hidden attribute</p>\n'
      b'<table><tr><td>cell&nbsp;one</td><td>cell two</td></tr><tr><td>row &amp; two</td></tr></table>\n'
      b'line<br>break<br/>again &eacute;&#233;&#x00E9; &lt;tag&gt;\n'
      b'<pre>pre   keeps\nits lines</pre>\n<ul><li>one</li><li>two</li></ul>\n'
      b'<p>D\xc3\xa9j\xc3\xa0 vu in UTF-8 despite the meta charset.</p></body></html>\n')

write('alternative-empty-plain',
      H + b'Subject: alternative with an empty text/plain\n'
      b'Content-Type: multipart/alternative; boundary="alt"\n\n'
      b'--alt\nContent-Type: text/plain; charset=us-ascii\n\n \n\n'
      b'--alt\nContent-Type: text/html; charset=us-ascii\n\n<p>The HTML is <b>used</b> instead.</p>\n'
      b'--alt--\n')

write('alternative-nested-related',
      H + b'Subject: alternative: plain wins over related HTML\n'
      b'Content-Type: multipart/alternative; boundary="a1"\n\n'
      b'--a1\nContent-Type: text/plain; charset=utf-8\n\nThe plain text version.\n'
      b'--a1\nContent-Type: multipart/related; boundary="r1"\n\n'
      b'--r1\nContent-Type: text/html; charset=utf-8\n\n<p>The HTML version.</p>\n'
      b'--r1\nContent-Type: image/png; name="logo.png"\nContent-Transfer-Encoding: base64\n\n'
      + b64(b'\x89PNG\r\n\x1a\n' + bytes(100)) + b'--r1--\n--a1--\n')

write('missing-boundary',
      H + b'Subject: multipart without a boundary parameter\n'
      b'Content-Type: multipart/mixed\n\n'
      b'--lost\nContent-Type: text/plain\n\nText after a boundary nobody declared.\n--lost--\n')

write('uuencode',
      H + b'Subject: x-uuencode transfer encoding\n'
      b'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: x-uuencode\n\n'
      b'begin 644 note.txt\n'
      + b''.join(__import__('binascii').b2a_uu(chunk) for chunk in
                 [b'This text was uuencoded by the sender', b' and is decoded by GMime.\n'])
      + b'`\nend\n')

write('attachments',
      H + b'Subject: attachments of all kinds\n'
      b'Content-Type: multipart/mixed; boundary="m"\n\n'
      b'preamble is not rendered\n'
      b'--m\nContent-Type: text/plain; charset=utf-8\n\nSee the attached files.\n'
      b'--m\nContent-Type: application/zip; name="invoice.zip"\nContent-Disposition: attachment; filename="invoice.zip"\n'
      b'Content-Transfer-Encoding: base64\n\n' + b64(bytes(range(256)) * 4) +
      b'--m\nContent-Type: application/octet-stream\nContent-Disposition: attachment;\n'
      b" filename*=utf-8''%E2%82%AC%20r%C3%A9sum%C3%A9.exe\nContent-Transfer-Encoding: base64\n\n" + b64(b'MZ' + bytes(510)) +
      b'--m\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\n' + b64(b'GIF89a' + bytes(37)) +
      b'--m\nContent-Type: text/plain; name="notes.txt"\nContent-Disposition: attachment; filename="notes.txt"\n\n'
      b'A text attachment is listed, not rendered.\n'
      b'--m\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: inline\n\nA second inline text part.\n'
      b'--m--\nepilogue is not rendered\n')

write('forwarded-rfc822',
      H + b'Subject: Fwd: the original\n'
      b'Content-Type: multipart/mixed; boundary="f"\n\n'
      b'--f\nContent-Type: text/plain\n\nForwarding this.\n'
      b'--f\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n'
      b'From: Original <orig@example.com>\nSubject: =?utf-8?q?the_original_=E2=9C=93?=\n'
      b'Content-Type: text/plain; charset=utf-8\n\nThe original body.\n'
      b'--f--\n')

write('wrong-charsets',
      H + b'Subject: declared charsets that lie\n'
      b'Content-Type: multipart/mixed; boundary="w"\n\n'
      b'--w\nContent-Type: text/plain; charset=us-ascii\n\nus-ascii declared, UTF-8 sent: \xc3\xa9t\xc3\xa9\n'
      b'--w\nContent-Type: text/plain; charset=x-no-such-charset\n\nunknown charset, latin-1 sent: \xe9t\xe9 \x80\n'
      b'--w\nContent-Type: text/plain; charset=utf-8\n\nutf-8 declared, one bad byte: caf\xe9 ok\n'
      b'--w\nContent-Type: text/plain\n\nno charset, windows-1252 quotes: \x93quoted\x94 \x96 dash\n'
      b'--w--\n')

write('controls-whitespace',
      H + b'Subject:   lots\tof   space  \n'
      b'Content-Type: text/plain; charset=utf-8\n\n'
      b'   leading spaces and trailing   \t\n'
      b'tabs\t\tand\x00NUL\x01and\x0cform feed\x7fDEL\r\n'
      b'\n\n\n\n\nfive blank lines above become one\n'
      b'no\xc2\xa0break\xc2\xa0\xc2\xa0spaces\n'
      b'<|begin_of_text|> is ordinary text\n\n\n')

write('koi8-r-and-windows-1251',
      H + b'Subject: =?koi8-r?q?' + ''.join('=%02X' % c for c in 'Тема'.encode('koi8-r')).encode() + b'?=\n'
      b'Content-Type: multipart/mixed; boundary="c"\n\n'
      b'--c\nContent-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n'
      + 'Съешь же ещё этих мягких французских булок (koi8-r).\n'.encode('koi8-r') +
      b'--c\nContent-Type: text/plain; charset=windows-1251\nContent-Transfer-Encoding: 8bit\n\n'
      + 'Да выпей же чаю (windows-1251).\n'.encode('cp1251') + b'--c--\n')
