/*
 * bpe: see bpe.h. Merging applies, again and again, the adjacent pair of
 * lowest rank, the leftmost among equal ranks, until no pair has a merge:
 * what the reference's priority queue does. Short pre-tokens (nearly all)
 * use a plain scan; long ones a binary heap with lazy deletion, so a
 * pathological 100 kB "word" costs O(n log n), not O(n^2).
 */
#include "config.h"
#include "engine/bpe.h"

#include <stdlib.h>
#include <string.h>

#define NO_TOKEN UINT32_MAX
#define EMPTY_KEY UINT64_MAX
#define SHORT_WORD 48
/* Tables stay at most 5/8 full: short probe runs, and half the memory (and
 * page faults at load) of a half-full table of the next size up. */
#define LOAD_LIMIT(n) ((n) * 8 / 5)

/* One slot of the bytes -> id table; everything a lookup compares sits in
 * the slot, so a probe costs one cache miss plus the final memcmp. */
typedef struct {
    uint32_t hash;
    int32_t id; /* -1: free */
    uint32_t off, len;
    uint8_t head[16]; /* the first bytes: short tokens compare here */
} vocab_slot;

typedef struct {
    uint64_t key; /* left << 32 | right; EMPTY_KEY when free */
    int32_t rank;
    int32_t merged;
} merge_slot;

struct bpe {
    /* tokens by id: bytes at arena + off[id], len[id] (NO_TOKEN: no token) */
    uint32_t *off, *len;
    int32_t id_cap, id_end;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    /* bytes -> id */
    vocab_slot *vslot;
    size_t vmask, vcount;
    /* pair -> merge */
    merge_slot *mslot;
    size_t mmask, mcount;
    int32_t byte_id[256];
    bool ignore_merges;
};

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint32_t bpe_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return (uint32_t)mix(h ^ v);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 1024;
    while (c < n)
        c <<= 1;
    return c;
}

static int vocab_rehash(bpe *b, size_t cap)
{
    vocab_slot *slot = malloc(cap * sizeof *slot);
    if (!slot)
        return -1;
    for (size_t i = 0; i < cap; i++)
        slot[i].id = -1;
    size_t mask = cap - 1;
    for (size_t i = 0; b->vslot && i <= b->vmask; i++) {
        if (b->vslot[i].id < 0)
            continue;
        size_t j = b->vslot[i].hash & mask;
        while (slot[j].id >= 0)
            j = (j + 1) & mask;
        slot[j] = b->vslot[i];
    }
    free(b->vslot);
    b->vslot = slot;
    b->vmask = mask;
    return 0;
}

static int merges_rehash(bpe *b, size_t cap)
{
    merge_slot *slot = malloc(cap * sizeof *slot);
    if (!slot)
        return -1;
    for (size_t i = 0; i < cap; i++)
        slot[i].key = EMPTY_KEY;
    size_t mask = cap - 1;
    for (size_t i = 0; b->mslot && i <= b->mmask; i++) {
        if (b->mslot[i].key == EMPTY_KEY)
            continue;
        size_t j = mix(b->mslot[i].key) & mask;
        while (slot[j].key != EMPTY_KEY)
            j = (j + 1) & mask;
        slot[j] = b->mslot[i];
    }
    free(b->mslot);
    b->mslot = slot;
    b->mmask = mask;
    return 0;
}

bpe *bpe_new(size_t n_tokens, size_t n_merges)
{
    bpe *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    for (int i = 0; i < 256; i++)
        b->byte_id[i] = -1;
    if (vocab_rehash(b, pow2_at_least(LOAD_LIMIT(n_tokens))) ||
        merges_rehash(b, pow2_at_least(LOAD_LIMIT(n_merges)))) {
        bpe_free(b);
        return NULL;
    }
    return b;
}

void bpe_free(bpe *b)
{
    if (!b)
        return;
    free(b->off);
    free(b->len);
    free(b->arena);
    free(b->vslot);
    free(b->mslot);
    free(b);
}

int bpe_reserve_merges(bpe *b, size_t n)
{
    size_t cap = pow2_at_least(LOAD_LIMIT(n));
    return cap > b->mmask + 1 ? merges_rehash(b, cap) : 0;
}

void bpe_set_ignore_merges(bpe *b, bool on)
{
    b->ignore_merges = on;
}

/* Short keys compare inline: cheaper than a call to memcmp. */
static inline bool short_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

int32_t bpe_lookup_hashed(const bpe *b, const uint8_t *bytes, size_t len, uint32_t h)
{
    size_t j = h & b->vmask;
    for (;;) {
        const vocab_slot *v = &b->vslot[j];
        if (v->id < 0)
            return -1;
        if (v->hash == h && v->len == len &&
            (len <= sizeof v->head ? short_eq(v->head, bytes, len) : !memcmp(b->arena + v->off, bytes, len)))
            return v->id;
        j = (j + 1) & b->vmask;
    }
}

int32_t bpe_lookup(const bpe *b, const uint8_t *bytes, size_t len)
{
    return bpe_lookup_hashed(b, bytes, len, bpe_hash(bytes, len));
}

void bpe_prefetch(const bpe *b, uint32_t h)
{
    __builtin_prefetch(&b->vslot[h & b->vmask]);
}

void bpe_prefetch_merge(const bpe *b, int32_t left, int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    __builtin_prefetch(&b->mslot[mix(key) & b->mmask], 1);
}

int bpe_add_token(bpe *b, const uint8_t *bytes, size_t len, int32_t id)
{
    return bpe_add_token_hashed(b, bytes, len, id, bpe_hash(bytes, len));
}

int bpe_add_token_hashed(bpe *b, const uint8_t *bytes, size_t len, int32_t id, uint32_t h)
{
    if (id < 0 || len >= NO_TOKEN)
        return -2;
    if (id >= b->id_cap) {
        int32_t cap = b->id_cap ? b->id_cap : 1024;
        while (cap <= id)
            cap *= 2;
        uint32_t *off = realloc(b->off, (size_t)cap * sizeof *off);
        if (!off)
            return -1;
        b->off = off;
        uint32_t *ln = realloc(b->len, (size_t)cap * sizeof *ln);
        if (!ln)
            return -1;
        b->len = ln;
        for (int32_t i = b->id_cap; i < cap; i++)
            b->len[i] = NO_TOKEN;
        b->id_cap = cap;
    }
    if (b->len[id] != NO_TOKEN)
        return -2;
    size_t j = h & b->vmask;
    for (; b->vslot[j].id >= 0; j = (j + 1) & b->vmask)
        if (b->vslot[j].hash == h && b->vslot[j].len == len &&
            !memcmp(b->arena + b->vslot[j].off, bytes, len))
            return -2;
    if (b->arena_len + len > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap : 65536;
        while (cap < b->arena_len + len)
            cap *= 2;
        if (cap > UINT32_MAX)
            return -1;
        uint8_t *a = realloc(b->arena, cap);
        if (!a)
            return -1;
        b->arena = a;
        b->arena_cap = cap;
    }
    if (LOAD_LIMIT(b->vcount + 1) > b->vmask + 1) {
        if (vocab_rehash(b, 2 * (b->vmask + 1)))
            return -1;
        j = h & b->vmask;
        while (b->vslot[j].id >= 0)
            j = (j + 1) & b->vmask;
    }
    if (len)
        memcpy(b->arena + b->arena_len, bytes, len);
    b->off[id] = (uint32_t)b->arena_len;
    b->len[id] = (uint32_t)len;
    b->arena_len += len;
    b->vslot[j] = (vocab_slot){h, id, b->off[id], b->len[id], {0}};
    memcpy(b->vslot[j].head, bytes, len < sizeof b->vslot[j].head ? len : sizeof b->vslot[j].head);
    b->vcount++;
    if (id >= b->id_end)
        b->id_end = id + 1;
    if (len == 1)
        b->byte_id[bytes[0]] = id;
    return 0;
}

static inline const merge_slot *merge_find(const bpe *b, int32_t left, int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t j = mix(key) & b->mmask;
    for (;;) {
        const merge_slot *s = &b->mslot[j];
        if (s->key == key)
            return s;
        if (s->key == EMPTY_KEY)
            return NULL;
        j = (j + 1) & b->mmask;
    }
}

int bpe_add_merge(bpe *b, int32_t left, int32_t right, int32_t merged, int32_t rank)
{
    if (LOAD_LIMIT(b->mcount + 1) > b->mmask + 1 && merges_rehash(b, 2 * (b->mmask + 1)))
        return -1;
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t j = mix(key) & b->mmask;
    while (b->mslot[j].key != EMPTY_KEY) {
        if (b->mslot[j].key == key)
            return 0;
        j = (j + 1) & b->mmask;
    }
    b->mslot[j].key = key;
    b->mslot[j].rank = rank;
    b->mslot[j].merged = merged;
    b->mcount++;
    return 0;
}

const uint8_t *bpe_token(const bpe *b, int32_t id, size_t *len)
{
    if (id < 0 || id >= b->id_end || b->len[id] == NO_TOKEN)
        return NULL;
    *len = b->len[id];
    return b->arena + b->off[id];
}

int32_t bpe_id_end(const bpe *b)
{
    return b->id_end;
}

bool bpe_has_all_bytes(const bpe *b)
{
    for (int i = 0; i < 256; i++)
        if (b->byte_id[i] < 0)
            return false;
    return true;
}

/* ---------------------------------------------------------------- encoding */

typedef struct {
    int32_t rank, pos, left, right;
} heap_item;

struct bpe_scratch {
    int32_t *id, *next, *prev;
    heap_item *heap;
    size_t cap, heap_cap;
};

bpe_scratch *bpe_scratch_new(void)
{
    return calloc(1, sizeof(bpe_scratch));
}

void bpe_scratch_free(bpe_scratch *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->next);
    free(s->prev);
    free(s->heap);
    free(s);
}

static int scratch_reserve(bpe_scratch *s, size_t n, bool links)
{
    if (n > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < n)
            cap *= 2;
        int32_t *id = realloc(s->id, cap * sizeof *id);
        if (!id)
            return -1;
        s->id = id;
        int32_t *nx = realloc(s->next, cap * sizeof *nx);
        if (!nx)
            return -1;
        s->next = nx;
        int32_t *pv = realloc(s->prev, cap * sizeof *pv);
        if (!pv)
            return -1;
        s->prev = pv;
        s->cap = cap;
    }
    /* Each merge pushes at most two pairs: 3n bounds the heap. */
    if (links && 3 * n > s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap : 192;
        while (cap < 3 * n)
            cap *= 2;
        heap_item *h = realloc(s->heap, cap * sizeof *h);
        if (!h)
            return -1;
        s->heap = h;
        s->heap_cap = cap;
    }
    return 0;
}

static inline bool item_less(const heap_item *a, const heap_item *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(heap_item *h, size_t *n, heap_item it)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(&it, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static heap_item heap_pop(heap_item *h, size_t *n)
{
    heap_item top = h[0], last = h[--*n];
    size_t i = 0, cnt = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= cnt)
            break;
        if (c + 1 < cnt && item_less(&h[c + 1], &h[c]))
            c++;
        if (!item_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (cnt)
        h[i] = last;
    return top;
}

static void push_pair(const bpe *b, bpe_scratch *s, size_t *hn, int32_t pos)
{
    int32_t nx = s->next[pos];
    if (nx < 0)
        return;
    const merge_slot *m = merge_find(b, s->id[pos], s->id[nx]);
    if (m)
        heap_push(s->heap, hn, (heap_item){m->rank, pos, s->id[pos], s->id[nx]});
}

long bpe_encode_word(const bpe *b, bpe_scratch *s, const uint8_t *word, size_t len,
                     const int32_t **ids)
{
    if (scratch_reserve(s, len ? len : 1, false))
        return -1;
    if (b->ignore_merges && len) {
        int32_t id = bpe_lookup(b, word, len);
        if (id >= 0) {
            s->id[0] = id;
            *ids = s->id;
            return 1;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = b->byte_id[word[i]];
        if (id >= 0)
            s->id[n++] = id;
    }
    *ids = s->id;
    if (n <= SHORT_WORD) {
        /* v: symbols; r[i], m[i]: rank and result of merging v[i], v[i+1]
         * (INT32_MAX: none). Each merge re-asks only its two new pairs. */
        int32_t *v = s->id, r[SHORT_WORD], m[SHORT_WORD];
        for (size_t i = 0; i + 1 < n; i++) /* overlap the cache misses */
            bpe_prefetch_merge(b, v[i], v[i + 1]);
        for (size_t i = 0; i + 1 < n; i++) {
            const merge_slot *ms = merge_find(b, v[i], v[i + 1]);
            r[i] = ms ? ms->rank : INT32_MAX;
            m[i] = ms ? ms->merged : -1;
        }
        while (n > 1) {
            size_t best = 0;
            for (size_t i = 1; i + 1 < n; i++)
                if (r[i] < r[best])
                    best = i;
            if (r[best] == INT32_MAX)
                break;
            v[best] = m[best];
            size_t tail = n - best - 2;
            memmove(v + best + 1, v + best + 2, tail * sizeof *v);
            memmove(r + best + 1, r + best + 2, (tail ? tail - 1 : 0) * sizeof *r);
            memmove(m + best + 1, m + best + 2, (tail ? tail - 1 : 0) * sizeof *m);
            n--;
            for (size_t i = best ? best - 1 : 0; i <= best && i + 1 < n; i++) {
                const merge_slot *ms = merge_find(b, v[i], v[i + 1]);
                r[i] = ms ? ms->rank : INT32_MAX;
                m[i] = ms ? ms->merged : -1;
            }
        }
        return (long)n;
    }

    if (scratch_reserve(s, n, true))
        return -1;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        s->prev[i] = (int32_t)i - 1;
        s->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++)
        push_pair(b, s, &hn, (int32_t)i);
    while (hn) {
        heap_item it = heap_pop(s->heap, &hn);
        int32_t p = it.pos, nx;
        /* Stale unless the pair is still exactly (left, right): symbols only
         * grow, so a changed pair has changed ids. Merged-away symbols have
         * id -1. */
        if (s->id[p] != it.left || (nx = s->next[p]) < 0 || s->id[nx] != it.right)
            continue;
        const merge_slot *m = merge_find(b, it.left, it.right);
        s->id[p] = m->merged;
        s->id[nx] = -1;
        s->next[p] = s->next[nx];
        if (s->next[nx] >= 0)
            s->prev[s->next[nx]] = p;
        if (s->prev[p] >= 0)
            push_pair(b, s, &hn, s->prev[p]);
        push_pair(b, s, &hn, p);
    }
    size_t out = 0;
    for (int32_t p = 0; p >= 0; p = s->next[p])
        s->id[out++] = s->id[p];
    return (long)out;
}
