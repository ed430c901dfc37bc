#!/bin/sh
# bench/compare-spamassassin.sh: a model (the shipped default) against Apache SpamAssassin
# on the same dev split of the SpamAssassin public corpus. Run by hand (not
# part of make check or make bench: it needs ../shared and SpamAssassin, and
# takes minutes).
#
# SpamAssassin: local tests only (-L: no DNS blocklists, Razor, Pyzor, DCC),
# its stock rules, Bayes trained with sa-learn on the training split (every
# corpus message not in the model's dev lists), scored on the dev split by
# one Perl process through the Mail::SpamAssassin API; spam = score >=
# required_score (5.0). llmspam: `llmspam eval` on the dev lists at
# tag_threshold's default (TAG_THRESHOLD=X in the environment: at X). Both
# report precision, recall, F1, FPR, ROC AUC and messages/s,
# single-threaded (one core each), on this machine in this run.
# llmspam reads max_tokens tokens per message: the model directory's
# training.json "max_tokens" when it has one (what it was trained with),
# else 512; MAX_TOKENS=N in the environment overrides it.
#
# TEST_SET=DIR in the environment scores DIR/ham and DIR/spam (one message
# file each) instead of the dev split, with the same training split for
# Bayes: the two side by side on mail of your own.
#
# usage: bench/compare-spamassassin.sh [LLMSPAM [MODEL_DIR [CORPUS_DIR]]]
#   LLMSPAM     the built llmspam (default: ./llmspam, then llmspam in PATH)
#   MODEL_DIR   default: models/default next to this script (models/demo works too)
#   CORPUS_DIR  default: ../shared/corpus/spamassassin next to the checkout
# Installs the Debian package spamassassin with apt-get when it is missing.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
llmspam=${1:-}
if [ -z "$llmspam" ]; then
    if [ -x ./llmspam ]; then llmspam=./llmspam; else llmspam=llmspam; fi
fi
model=${2:-$here/models/default}
corpus=${3:-$here/../shared/corpus/spamassassin}
for f in "$model/dev-ham.txt" "$model/dev-spam.txt"; do
    [ -f "$f" ] || { echo "$f: missing (train/ writes it)" >&2; exit 1; }
done
[ -d "$corpus/ham" ] && [ -d "$corpus/spam" ] || { echo "$corpus: no ham/ and spam/" >&2; exit 1; }
if [ -z "${MAX_TOKENS:-}" ]; then
    MAX_TOKENS=512
    if [ -f "$model/training.json" ]; then
        t=$(tr -d ' \n' <"$model/training.json" | sed -n 's/.*"max_tokens":\([0-9][0-9]*\).*/\1/p')
        [ -n "$t" ] && MAX_TOKENS=$t
    fi
fi
echo "model: $model, max_tokens $MAX_TOKENS"

if ! command -v sa-learn >/dev/null 2>&1 || ! perl -MMail::SpamAssassin -e1 2>/dev/null; then
    echo "installing spamassassin (apt-get)" >&2
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends spamassassin >&2
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends spamassassin >&2
    fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmspam-vs-sa.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bayes" "$tmp/home"

# The training split: every corpus file that is not in a dev list.
for c in ham spam; do
    (cd "$corpus" && ls "$c" | sed "s|^|$c/|") | sort >"$tmp/all-$c"
    sort "$model/dev-$c.txt" >"$tmp/dev-$c"
    comm -23 "$tmp/all-$c" "$tmp/dev-$c" | sed "s|^|$corpus/|" >"$tmp/train-$c"
    sed "s|^|$corpus/|" "$tmp/dev-$c" >"$tmp/devabs-$c"
done
if [ -n "${TEST_SET:-}" ]; then
    for c in ham spam; do
        [ -d "$TEST_SET/$c" ] || { echo "$TEST_SET/$c: missing (TEST_SET needs ham/ and spam/)" >&2; exit 1; }
        find "$(cd "$TEST_SET/$c" && pwd)" -type f ! -name '.*' | sort >"$tmp/devabs-$c"
        [ -s "$tmp/devabs-$c" ] || { echo "$TEST_SET/$c: no messages" >&2; exit 1; }
    done
fi
echo "train: $(wc -l <"$tmp/train-ham") ham, $(wc -l <"$tmp/train-spam") spam;" \
    "test${TEST_SET:+ ($TEST_SET)}: $(wc -l <"$tmp/devabs-ham") ham, $(wc -l <"$tmp/devabs-spam") spam"

cat >"$tmp/prefs" <<EOF
use_bayes 1
bayes_auto_learn 0
bayes_auto_expire 0
bayes_path $tmp/bayes/bayes
lock_method flock
EOF

# sa-learn reads the file list with -f (one path per line).
t0=$(date +%s)
sa-learn -L -p "$tmp/prefs" --no-sync --ham -f "$tmp/train-ham" >/dev/null
sa-learn -L -p "$tmp/prefs" --no-sync --spam -f "$tmp/train-spam" >/dev/null
sa-learn -L -p "$tmp/prefs" --sync >/dev/null
echo "sa-learn: $(($(date +%s) - t0)) s; $(sa-learn -p "$tmp/prefs" --dump magic 2>/dev/null | grep -E 'nspam|nham' | awk '{ printf "%s %s  ", $4, $3 }')"

# One Perl process scores every dev message: path label score lines.
cat >"$tmp/score.pl" <<'EOF'
use strict;
use warnings;
use Mail::SpamAssassin;
use Time::HiRes qw(time);
my ($prefs, $home, $out) = @ARGV;
my $sa = Mail::SpamAssassin->new({
    local_tests_only => 1, userprefs_filename => $prefs, dont_copy_prefs => 1,
    home_dir_for_helpers => $home });
$sa->init(1);
open(my $o, '>', $out) or die "$out: $!";
my ($n, $t0) = (0, time);
while (my $line = <STDIN>) {
    chomp $line;
    my ($label, $path) = split / /, $line, 2;
    open(my $f, '<', $path) or die "$path: $!";
    binmode $f;
    local $/;
    my $raw = <$f>;
    close $f;
    my $mail = $sa->parse($raw);
    my $st = $sa->check($mail);
    printf $o "%s %s %.3f %.1f\n", $path, $label, $st->get_score, $st->get_required_score;
    $st->finish;
    $mail->finish;
    $n++;
}
printf STDERR "%d messages in %.1f s\n", $n, time - $t0;
printf "%.2f\n", $n / (time - $t0);
EOF
{ sed 's/^/ham /' "$tmp/devabs-ham"; sed 's/^/spam /' "$tmp/devabs-spam"; } >"$tmp/dev-labelled"
# Scanning updates token access times in the Bayes journal, and SA 4.0.1
# then warns about every such line ("gibberish entry"): drop those warnings.
sa_rate=$(perl "$tmp/score.pl" "$tmp/prefs" "$tmp/home" "$tmp/sa-scores" <"$tmp/dev-labelled" 2>"$tmp/sa.err")
grep -v -e 'gibberish entry' -e '^t [0-9]' "$tmp/sa.err" >&2 || true

# llmspam on the same messages, one compute thread.
"$llmspam" eval --model "$model" --ham-list "$tmp/devabs-ham" \
    --spam-list "$tmp/devabs-spam" --max-tokens "$MAX_TOKENS" ${TAG_THRESHOLD:+--tag-threshold "$TAG_THRESHOLD"} \
    --threads 1 --json --scores "$tmp/llm-scores" >"$tmp/llm.json"
llm_rate=$(sed 's/.*"messages_per_second":\([^,}]*\).*/\1/' "$tmp/llm.json")
llm_tag=$(sed -e 's/"thresholds".*//' -e 's/.*"threshold":\([^,}]*\).*/\1/' "$tmp/llm.json")

# metrics FILE THRESHOLD RATE NAME: P, R, F1, FPR at the threshold; AUC by pairs.
metrics() {
    awk -v t="$2" -v rate="$3" -v name="$4" '
        $2 == "spam" { s[ns++] = $3; if ($3 >= t) tp++; else fn++ }
        $2 == "ham"  { h[nh++] = $3; if ($3 >= t) fp++; else tn++ }
        END {
            for (i = 0; i < ns; i++) for (j = 0; j < nh; j++) w += (s[i] > h[j]) + 0.5 * (s[i] == h[j])
            p = tp + fp ? tp / (tp + fp) : 0; r = tp / ns; f = p + r ? 2 * p * r / (p + r) : 0
            printf "%-14s %6.4f %6.4f %6.4f %7.3f%% %7.4f %9.1f   TP %d FP %d TN %d FN %d (threshold %s)\n",
                name, p, r, f, 100 * fp / nh, w / (ns * nh), rate, tp, fp, tn, fn, t }' "$1"
}
echo
printf '%-14s %6s %6s %6s %8s %7s %9s\n' "" precision recall F1 FPR AUC "msg/s"
metrics "$tmp/sa-scores" 5.0 "$sa_rate" "SpamAssassin"
metrics "$tmp/llm-scores" "$llm_tag" "$llm_rate" "llmspam"
if [ -n "${KEEP_SCORES:-}" ]; then
    cp "$tmp/sa-scores" "$KEEP_SCORES.sa"
    cp "$tmp/llm-scores" "$KEEP_SCORES.llmspam"
fi
