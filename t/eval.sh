# eval.sh: llmspam eval runs the full pipeline on files, directories, an
# mbox, a maildir and list files, and its metrics agree with the per-message
# scores it writes (confusion counts, AUC, the threshold table recomputed
# here with awk), with `llmspam classify` on `llmspam extract`'s text, and
# with the threshold given by --tag-threshold or --config. The model is a
# generated one (random weights): only consistency is tested here; the demo
# model's accuracy is tested by t/demo_model.sh.
. "$top_srcdir/t/lib/tap.sh"
tok="$top_srcdir/models/tokenizer/tokenizer.json"
data="$top_srcdir/t/data/mime"
[ -f "$tok" ] || skip_all "no $tok"
[ -d "$data" ] || skip_all "no $data"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmspam-eval.XXXXXX") || skip_all "no temporary directory"
trap 'rm -rf "$tmp"' EXIT

"$LLMSPAM" mkmodel --preset tiny --labels ham,spam --pad-token-id 128004 --seed 5 \
    --tokenizer "$tok" "$tmp/model" >"$tmp/mk.out" 2>&1
ok $? "a generated ham/spam model" || { cat "$tmp/mk.out"; done_testing; }

# Arbitrary labels for fixture messages: the random model scores them all.
mkdir "$tmp/spam" "$tmp/ham"
for f in "$data"/sa-*.eml; do cp "$f" "$tmp/spam/"; done
for f in "$data"/mimekit-*.eml "$data"/gmime-*.eml; do cp "$f" "$tmp/ham/"; done
nspam=$(ls "$tmp/spam" | wc -l)
nham=$(ls "$tmp/ham" | wc -l)

# jtop KEY: a top-level number of the one-line JSON in $tmp/j (before "thresholds").
jtop() { sed -e 's/"thresholds".*//' -e "s/.*\"$1\":\\([^,}]*\\).*/\\1/" "$tmp/j"; }

"$LLMSPAM" eval --model "$tmp/model" --threads 1 --spam "$tmp/spam" --ham "$tmp/ham" --json \
    --scores "$tmp/scores" --plot "$tmp/plot.svg" >"$tmp/j" 2>"$tmp/err"
ok $? "eval --json --scores --plot on two directories"
[ ! -s "$tmp/err" ]; ok $? "quiet on a non-terminal (no progress bar)"
[ "$(jtop n_spam)" = "$nspam" ] && [ "$(jtop n_ham)" = "$nham" ]
ok $? "n_spam $nspam, n_ham $nham"
miss=0
for k in n_spam n_ham tp fp tn fn precision recall f1 fpr auc threshold thresholds; do
    grep -q "\"$k\":" "$tmp/j" || { echo "# missing $k"; miss=1; }
done
[ $miss -eq 0 ]; ok $? "every documented JSON key is there"
[ "$(grep -o '"max_fpr"' "$tmp/j" | wc -l)" -eq 3 ]; ok $? "three rows in the threshold table"
[ "$(wc -l <"$tmp/scores")" -eq $((nspam + nham)) ]; ok $? "one score line per message"
awk '$2 != "spam" && $2 != "ham" || $3 < 0 || $3 > 1 { bad = 1 } END { exit bad }' "$tmp/scores"
ok $? "score lines are path, label, probability"
[ "$(awk '{ print $3 }' "$tmp/scores" | sort -u | wc -l)" -gt 3 ]
ok $? "scores differ between messages (the test below can fail)"

# Confusion counts at tag_threshold's default (the sample config's, which
# t/milter_cli.sh checks against the key table), recomputed from the scores.
tag=$(sed -n 's/^# tag_threshold = //p' "$top_srcdir/conf/llmspam.conf")
[ -n "$tag" ] && [ "$(jtop threshold)" = "$tag" ]
ok $? "the default threshold is tag_threshold's default, $tag"
awk -v t="$tag" '{ s = ($3 >= t) } $2 == "spam" { s ? tp++ : fn++ } $2 == "ham" { s ? fp++ : tn++ }
    END { printf "%d %d %d %d\n", tp, fp, tn, fn }' "$tmp/scores" >"$tmp/cm"
[ "$(cat "$tmp/cm")" = "$(jtop tp) $(jtop fp) $(jtop tn) $(jtop fn)" ]
ok $? "TP FP TN FN agree with the scores ($(cat "$tmp/cm"))"
# AUC by counting pairs (ties half) against the merge in C.
awk '$2 == "spam" { s[ns++] = $3 } $2 == "ham" { h[nh++] = $3 }
    END { for (i = 0; i < ns; i++) for (j = 0; j < nh; j++) w += (s[i] > h[j]) + 0.5 * (s[i] == h[j]);
          printf "%.9f\n", w / (ns * nh) }' "$tmp/scores" >"$tmp/auc"
awk -v a="$(cat "$tmp/auc")" -v b="$(jtop auc)" -v n=$((nspam * nham)) \
    'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 2.0 / n) }'
ok $? "AUC $(jtop auc) agrees with pair counting ($(cat "$tmp/auc"))"
# Each threshold row: its FPR and recall recomputed from the scores, the FPR
# within its bound, and no lower threshold (the next ham score down) would do.
sed 's/.*"thresholds":\[//; s/\].*//; s/},{/\n/g; s/[{}]//g' "$tmp/j" |
    sed 's/"max_fpr"://; s/"threshold"://; s/"recall"://; s/"fpr"://; s/,/ /g' >"$tmp/rows"
good=0
while read -r maxfpr thr rec fpr; do
    awk -v m="$maxfpr" -v t="$thr" -v r="$rec" -v f="$fpr" -v ns="$nspam" -v nh="$nham" '
        $2 == "spam" && $3 >= t { tp++ } $2 == "ham" && $3 >= t { fp++ }
        function off(a, b) { return a - b > 1e-9 || b - a > 1e-9 }
        END { exit fp / nh > m + 1e-12 || off(fp / nh, f) || off(tp / ns, r) }' "$tmp/scores" ||
        { echo "# row $maxfpr $thr $rec $fpr"; good=1; }
    if [ "$thr" != 0 ]; then
        awk -v m="$maxfpr" -v t="$thr" -v nh="$nham" '$2 == "ham" && $3 < t && $3 > b { b = $3 }
            $2 == "ham" { all[NR] = $3 }
            END { for (i in all) if (all[i] >= b) c++; exit !(c / nh > m) }' "$tmp/scores" ||
            { echo "# threshold $thr is not the lowest for FPR <= $maxfpr"; good=1; }
    fi
done <"$tmp/rows"
[ "$(wc -l <"$tmp/rows")" -eq 3 ] && [ $good -eq 0 ]
ok $? "threshold table: FPR within each bound, recall and FPR as recomputed, lowest such threshold"

# The pipeline is the milter's: extract's text, classified, gives the same score.
f=$(ls "$tmp/spam" | head -n 1)
"$LLMSPAM" extract "$tmp/spam/$f" >"$tmp/text" &&
    head -c -1 "$tmp/text" >"$tmp/text1" &&
    "$LLMSPAM" classify --text --model "$tmp/model" --threads 1 --json "$tmp/text1" >"$tmp/c.json"
ok $? "extract + classify on one message"
cs=$(sed 's/.*"score":\([^,}]*\).*/\1/' "$tmp/c.json")
es=$(awk -v f="$tmp/spam/$f" '$1 == f { print $3 }' "$tmp/scores")
awk -v a="$cs" -v b="$es" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-6) }'
ok $? "eval's score ($es) is classify's on extract's text ($cs)"

# Thresholds from the command line and from an llmspam.conf.
"$LLMSPAM" eval --model "$tmp/model" --threads 1 --spam "$tmp/spam" --ham "$tmp/ham" --json \
    --tag-threshold 0 >"$tmp/j"
[ "$(jtop tp)" = "$nspam" ] && [ "$(jtop fp)" = "$nham" ] && [ "$(jtop threshold)" = 0 ]
ok $? "--tag-threshold 0: everything is spam"
printf '# a config\nmodel = %s\ntag_threshold = 1\nmax_tokens = 64\n' "$tmp/model" >"$tmp/conf"
"$LLMSPAM" eval --config "$tmp/conf" --threads 1 --spam "$tmp/spam" --ham "$tmp/ham" --json >"$tmp/j"
[ "$(jtop threshold)" = 1 ]; ok $? "--config: tag_threshold and model read from llmspam.conf"
"$LLMSPAM" eval --config "$tmp/conf" --tag-threshold 0.3 --spam "$tmp/spam" --ham "$tmp/ham" >/dev/null 2>&1
[ $? -eq 2 ]; ok $? "--config and --tag-threshold together: usage error"

# The same messages as an mbox and as a maildir give the same scores (the
# mbox takes the spam without body lines that start "From ", which an mbox
# would split on).
mkdir "$tmp/spam2"
for f in "$tmp"/spam/*; do grep -q '^From ' "$f" || cp "$f" "$tmp/spam2/"; done
nspam2=$(ls "$tmp/spam2" | wc -l)
: >"$tmp/spam.mbox"
for f in "$tmp"/spam2/*; do
    { echo "From sender@example.org Thu Jan  1 00:00:00 2004"; cat "$f"; echo; } >>"$tmp/spam.mbox"
done
mkdir -p "$tmp/md/cur" "$tmp/md/new" "$tmp/md/tmp"
cp "$tmp"/ham/* "$tmp/md/cur/"
"$LLMSPAM" eval --model "$tmp/model" --threads 1 --spam "$tmp/spam2" --ham "$tmp/ham" \
    --scores "$tmp/scores1" >/dev/null &&
"$LLMSPAM" eval --model "$tmp/model" --threads 1 --spam "$tmp/spam.mbox" --ham "$tmp/md" \
    --scores "$tmp/scores2" --json >"$tmp/j"
ok $? "eval on an mbox and a maildir"
[ "$nspam2" -gt 5 ] && [ "$(jtop n_spam)" = "$nspam2" ] && [ "$(jtop n_ham)" = "$nham" ]
ok $? "mbox: $nspam2 messages, maildir: $nham"
awk '{ print $2, $3 }' "$tmp/scores1" | sort >"$tmp/s1"
awk '{ print $2, $3 }' "$tmp/scores2" | sort >"$tmp/s2"
# An mbox message ends in one more newline than the file: allow a hair.
paste -d ' ' "$tmp/s1" "$tmp/s2" | awk '$1 != $3 { exit 1 } { d = $2 - $4; if (d < 0) d = -d; if (d > 1e-3) exit 1 }'
ok $? "same labels and scores as the plain files"

# A file in a directory is one message even when it starts with an envelope
# "From " line and has body lines starting "From " (as the corpus files do).
mkdir "$tmp/fromdir"
{ echo "From someone@example.org Thu Jan  1 00:00:00 2004"; echo "Subject: hi"; echo;
  echo "line one"; echo "From here on, a body line."; } >"$tmp/fromdir/m1"
"$LLMSPAM" eval --model "$tmp/model" --threads 1 --spam "$tmp/fromdir" --ham "$tmp/ham" --json >"$tmp/j"
[ "$(jtop n_spam)" = 1 ]; ok $? "a file in a directory starting \"From \" is one message"

# List files relative to --root, as train/ writes dev-spam.txt and dev-ham.txt.
(cd "$tmp" && ls spam/* >spam.txt && ls ham/* >ham.txt)
"$LLMSPAM" eval --model "$tmp/model" --threads 1 --root "$tmp" --spam-list "$tmp/spam.txt" \
    --ham-list "$tmp/ham.txt" --json >"$tmp/j"
ok $? "eval --spam-list --ham-list --root"
[ "$(jtop n_spam)" = "$nspam" ] && [ "$(jtop n_ham)" = "$nham" ]; ok $? "lists: every message"

# The plot: well-formed SVG with the ROC polyline and histogram bars.
grep -q '<polyline' "$tmp/plot.svg" && grep -q 'fill="#c00"' "$tmp/plot.svg" && tail -n 1 "$tmp/plot.svg" | grep -q '</svg>'
ok $? "--plot writes an SVG with the ROC curve and both histograms"
if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$tmp/plot.svg"; ok $? "the SVG is well-formed XML"
fi

# Errors.
"$LLMSPAM" eval --spam "$tmp/spam" --ham "$tmp/ham" >/dev/null 2>&1; [ $? -eq 2 ]
ok $? "no model: usage error"
"$LLMSPAM" eval --model "$tmp/model" "$tmp/spam" >/dev/null 2>&1; [ $? -eq 2 ]
ok $? "a path before --spam/--ham: usage error"
"$LLMSPAM" eval --model "$tmp/model" --spam "$tmp/spam" >/dev/null 2>&1; [ $? -eq 2 ]
ok $? "spam only: usage error (metrics need both classes)"
"$LLMSPAM" eval --model "$tmp/model" --spam "$tmp/nonexistent" --ham "$tmp/ham" 2>"$tmp/err" >/dev/null
[ $? -eq 1 ] && grep -q nonexistent "$tmp/err"; ok $? "a missing path: exit 1, named"
"$LLMSPAM" eval --model "$tmp/nomodel" --spam "$tmp/spam" --ham "$tmp/ham" >/dev/null 2>&1; [ $? -eq 1 ]
ok $? "a missing model: exit 1"
"$LLMSPAM" eval --model "$tmp/model" --tag-threshold 1.5 --spam "$tmp/spam" --ham "$tmp/ham" >/dev/null 2>&1
[ $? -eq 2 ]; ok $? "--tag-threshold outside [0, 1]: usage error"
done_testing
