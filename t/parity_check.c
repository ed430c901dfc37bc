/*
 * parity_check: compare the engine with the committed transformers
 * references of one generated model (t/data/ref/NAME.json, written by
 * t/ref/make_model_refs.py). Used by t/parity.sh:
 *
 *   parity_check MODEL_DIR FIXTURE.json   run every case; exit 0 if all agree
 *   parity_check --args FIXTURE.json      print the mkmodel arguments, one a line
 *   parity_check --sha FIXTURE.json       print model and config sha256, one a line
 *
 * Acceptance (issue 2, section 6), per case and label:
 *   |logit - transformers float32 logit|       <= 2e-3
 *   |prob  - transformers float32 probability| <= 1e-3 (regression: the raw
 *                                                 value, held to the logit bound)
 *   |prob  - transformers bf16 probability|    <= 2e-2
 * Each case prints one "# ..." line with its errors; the last line is the
 * maximum over the cases. Exit status: 0 agree, 1 disagree, 2 cannot run.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/classifier.h"

#define TOL_LOGIT 2e-3
#define TOL_PROB 1e-3
#define TOL_PROB_BF16 2e-2

static cJSON *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n <= 0 || n > (64L << 20)) {
        fclose(f);
        return NULL;
    }
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[got] = '\0';
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

/* Largest |a[i] - ref[i]| over a JSON array of numbers; -1 on a shape mismatch. */
static double max_diff(const float *a, int n, const cJSON *ref)
{
    if (!cJSON_IsArray(ref) || cJSON_GetArraySize(ref) != n)
        return -1;
    double m = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(ref, i);
        double d = cJSON_IsNumber(v) ? fabs((double)a[i] - v->valuedouble) : INFINITY;
        if (!(d <= m)) /* NaN counts as a failure */
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

static int print_list(const cJSON *fx, const char *mode)
{
    if (!strcmp(mode, "--args")) {
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(fx, "mkmodel_args")) {
            if (!cJSON_IsString(a))
                return 2;
            printf("%s\n", a->valuestring);
        }
        return 0;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(fx, "model_sha256");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(fx, "config_sha256");
    if (!cJSON_IsString(m) || !cJSON_IsString(c))
        return 2;
    printf("%s\n%s\n", m->valuestring, c->valuestring);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: parity_check MODEL_DIR FIXTURE.json | --args|--sha FIXTURE.json\n");
        return 2;
    }
    cJSON *fx = load_json(argv[2]);
    if (!fx) {
        fprintf(stderr, "parity_check: %s: cannot read or parse\n", argv[2]);
        return 2;
    }
    if (!strcmp(argv[1], "--args") || !strcmp(argv[1], "--sha")) {
        int rc = print_list(fx, argv[1]);
        cJSON_Delete(fx);
        return rc;
    }

    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(fx, "cases");
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(fx, "num_labels");
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(fx, "problem_type");
    if (!cJSON_IsArray(cases) || !cJSON_IsNumber(jn) || !cJSON_IsString(jp)) {
        fprintf(stderr, "parity_check: %s: no cases, num_labels or problem_type\n", argv[2]);
        cJSON_Delete(fx);
        return 2;
    }
    if (cJSON_GetArraySize(cases) < 1) {
        fprintf(stderr, "parity_check: %s: the reference has no cases\n", argv[2]);
        cJSON_Delete(fx);
        return 2;
    }
    bool regression = !strcmp(jp->valuestring, "regression");
    size_t max_n = 1;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "ids"));
        if (n > 0 && (size_t)n > max_n)
            max_n = (size_t)n;
    }

    classifier_options opt;
    classifier_options_init(&opt);
    opt.max_tokens = max_n; /* no case may be truncated */
    opt.ids_only = true;    /* the fixtures' ids, on a cut vocabulary */
    classifier *cl = NULL;
    engine_err err;
    if (classifier_new(argv[1], &opt, &cl, &err) != ENGINE_OK) {
        fprintf(stderr, "parity_check: %s\n", err.msg);
        cJSON_Delete(fx);
        return 2;
    }
    const llama_config *cfg = classifier_config(cl);
    int rc = 0;
    if (cfg->num_labels != jn->valueint) {
        printf("# num_labels %d, the reference has %d\n", cfg->num_labels, jn->valueint);
        rc = 1;
    }
    double worst[3] = {0, 0, 0};
    int32_t *ids = malloc(max_n * sizeof *ids);
    cJSON_ArrayForEach(c, cases) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *jids = cJSON_GetObjectItemCaseSensitive(c, "ids");
        const cJSON *f32 = cJSON_GetObjectItemCaseSensitive(c, "f32");
        const cJSON *b16 = cJSON_GetObjectItemCaseSensitive(c, "bf16");
        size_t n = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, jids) ids[n++] = (int32_t)v->valuedouble;
        classify_result res;
        if (classifier_classify_ids(cl, ids, n, 0, &res, &err) != ENGINE_OK) {
            printf("# %s: %s\n", cJSON_IsString(name) ? name->valuestring : "?", err.msg);
            rc = 1;
            continue;
        }
        double dl = max_diff(res.logits, res.num_labels,
                             cJSON_GetObjectItemCaseSensitive(f32, "logits"));
        double dp = max_diff(res.probs, res.num_labels,
                             cJSON_GetObjectItemCaseSensitive(f32, "probs"));
        double db = max_diff(res.probs, res.num_labels,
                             cJSON_GetObjectItemCaseSensitive(b16, "probs"));
        double tol_p = regression ? TOL_LOGIT : TOL_PROB;
        bool pass = dl >= 0 && dp >= 0 && db >= 0 && dl <= TOL_LOGIT && dp <= tol_p &&
                    db <= TOL_PROB_BF16;
        printf("# %-24s len %4zu  |dlogit| %.2e  |dprob| %.2e  |dprob bf16| %.2e  logits",
               cJSON_IsString(name) ? name->valuestring : "?", n, dl, dp, db);
        for (int i = 0; i < res.num_labels; i++)
            printf(" %.5f", res.logits[i]);
        printf("%s\n", pass ? "" : "  FAIL");
        if (!pass)
            rc = 1;
        worst[0] = fmax(worst[0], dl < 0 ? INFINITY : dl);
        worst[1] = fmax(worst[1], dp < 0 ? INFINITY : dp);
        worst[2] = fmax(worst[2], db < 0 ? INFINITY : db);
    }
    const cJSON *emu = cJSON_GetObjectItemCaseSensitive(fx, "emulated_bf16_activation_error");
    printf("# max |dlogit| %.2e (tolerance %.0e; bf16-activation floor %.2e)  |dprob| %.2e (%.0e)"
           "  |dprob bf16| %.2e (%.0e)  on %s\n",
           worst[0], TOL_LOGIT, cJSON_IsNumber(emu) ? emu->valuedouble : -1.0, worst[1],
           regression ? TOL_LOGIT : TOL_PROB, worst[2], TOL_PROB_BF16, classifier_device(cl));
    free(ids);
    classifier_free(cl);
    cJSON_Delete(fx);
    return rc;
}
