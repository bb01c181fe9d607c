// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * steer.bpf.c - SO_REUSEPORT socket steering for the reuseport library.
 *
 * Plain C against the UAPI headers (no CO-RE, no vmlinux.h). Rebuild with
 * build-bpf.sh beside this file; the Java side is written against the
 * interface below, so names, types and layouts must not change without
 * changing it too.
 *
 * ---------------------------------------------------------------- interface
 *
 *   #define MAX_SLOTS 256                  slot id == worker id, 0..255
 *   #define TABLE_MAX 65537                entries per table half
 *
 *   enum { MODE_PASS = 0, MODE_HASH = 1, MODE_SEQ = 2,
 *          MODE_STICKY = 3, MODE_CPU = 4 };
 *
 *   struct config {                        16 bytes, no padding
 *       __u32 mode;          offset 0      one of MODE_*
 *       __u32 table_len;     offset 4      entries of this half in use, 1..TABLE_MAX
 *       __u32 shadow;        offset 8      != 0: count only, never select
 *       __u32 generation;    offset 12     user space bookkeeping, unused here
 *   };
 *
 *   struct slot_stats {                    32 bytes, per CPU, sum over CPUs
 *       __u64 selected;      offset 0      bpf_sk_select_reuseport succeeded
 *       __u64 shadow;        offset 8      shadow mode: would have selected
 *       __u64 migrated;      offset 16     subset of selected with migrating_sk set
 *       __u64 fallback;      offset 24     selecting this slot failed (e.g. empty)
 *   };
 *
 *   maps (BTF-defined, SEC(".maps")):
 *     slots  REUSEPORT_SOCKARRAY key __u32 slot, value __u64 (socket fd on
 *            update, socket cookie on lookup), max_entries MAX_SLOTS
 *     active ARRAY  key __u32 (0), value __u32: half in force, 0 or 1
 *     config ARRAY  key __u32 half, value struct config, max_entries 2
 *     table  ARRAY  key __u32, value __u32 slot, max_entries 2*TABLE_MAX;
 *            half h occupies [h*TABLE_MAX, h*TABLE_MAX + table_len)
 *     seq    ARRAY  key __u32 (0), value __u64: global sequence,
 *            incremented atomically once per SEQ/STICKY-miss choice
 *     flows  LRU_HASH key __u32 md->hash, value __u32 slot, max_entries 65536
 *     stats  PERCPU_ARRAY key __u32 slot, value struct slot_stats,
 *            max_entries MAX_SLOTS
 *
 *   programs:
 *     SEC("sk_reuseport")          int steer_select(struct sk_reuseport_md *)
 *     SEC("sk_reuseport/migrate")  int steer_migrate(struct sk_reuseport_md *)
 *         expected attach type BPF_SK_REUSEPORT_SELECT_OR_MIGRATE
 *
 * ---------------------------------------------------------------- semantics
 *
 * Both programs run pick() below; md->migrating_sk tells the migrate path.
 *
 *  - half = active[0] (not 0/1 -> SK_PASS); cfg = config[half].
 *    mode PASS or unknown, table_len 0 or > TABLE_MAX -> SK_PASS untouched
 *    (the kernel hashes over the live members).
 *  - index i in [0, table_len):
 *      HASH    table index = (md->hash * table_len) >> 32, the kernel's own
 *              reciprocal_scale: a table of n blocks in socket order picks
 *              exactly the socket the kernel hash would
 *      SEQ     fetch_add(seq[0], 1) % table_len  (user space writes the
 *              round-robin / weighted sequence into the table)
 *      CPU     bpf_get_smp_processor_id() % table_len
 *      STICKY  flows[md->hash] if present (and < MAX_SLOTS), else the SEQ
 *              choice, remembered with flows[md->hash] = slot (BPF_ANY)
 *    slot = table[half*TABLE_MAX + i]; slot >= MAX_SLOTS -> SK_PASS.
 *  - shadow != 0: stats[slot].shadow++ and SK_PASS without selecting.
 *  - bpf_sk_select_reuseport(md, &slots, &slot, 0):
 *      0     -> stats[slot].selected++ (+ .migrated++ if migrating), SK_PASS
 *      error -> stats[slot].fallback++; STICKY re-picks once with the SEQ
 *               choice (flows updated) and tries that slot; otherwise, or if
 *               that fails too (its fallback++ as well), SK_PASS unselected:
 *               the kernel hash over the live members decides (on the
 *               migrate path the request still migrates by hash).
 *  - SK_DROP is never returned: the program fails open.
 *
 * Map lookups per packet: active, config, table, stats (+ seq for SEQ and a
 * STICKY miss, + flows for STICKY). ARRAY and PERCPU_ARRAY lookups are
 * inlined by the verifier; counters are plain per-CPU increments.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define MAX_SLOTS 256
#define TABLE_MAX 65537 /* entries per table half */

enum { MODE_PASS = 0, MODE_HASH = 1, MODE_SEQ = 2, MODE_STICKY = 3, MODE_CPU = 4 };

struct config {
	__u32 mode;
	__u32 table_len;
	__u32 shadow;
	__u32 generation;
};

struct slot_stats {
	__u64 selected;
	__u64 shadow;
	__u64 migrated;
	__u64 fallback;
};

_Static_assert(sizeof(struct config) == 16, "struct config must be 16 bytes");
_Static_assert(sizeof(struct slot_stats) == 32, "struct slot_stats must be 32 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, MAX_SLOTS);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct config);
	__uint(max_entries, 2);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 2 * TABLE_MAX);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 65536);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct slot_stats);
	__uint(max_entries, MAX_SLOTS);
} stats SEC(".maps");

/* Slot at index i of a table half; MAX_SLOTS (invalid) if it cannot be read. */
static __always_inline __u32 table_slot(__u32 half, __u32 i)
{
	__u32 key = half * TABLE_MAX + i;
	__u32 *v = bpf_map_lookup_elem(&table, &key);

	return v ? *v : MAX_SLOTS;
}

/* SEQ choice: next value of the global sequence, mapped onto the table. */
static __always_inline __u32 seq_slot(__u32 half, __u32 table_len)
{
	__u32 zero = 0;
	__u64 *s = bpf_map_lookup_elem(&seq, &zero);

	if (!s)
		return MAX_SLOTS;
	return table_slot(half, (__u32)(__sync_fetch_and_add(s, 1) % table_len));
}

static __always_inline struct slot_stats *slot_stats(__u32 slot)
{
	return bpf_map_lookup_elem(&stats, &slot);
}

static __always_inline int pick(struct sk_reuseport_md *md)
{
	__u32 zero = 0, half, mode, len, hash, slot;
	struct slot_stats *st;
	struct config *cfg;
	__u32 *v;

	v = bpf_map_lookup_elem(&active, &zero);
	if (!v)
		return SK_PASS;
	half = *v;
	if (half > 1)
		return SK_PASS;
	cfg = bpf_map_lookup_elem(&config, &half);
	if (!cfg)
		return SK_PASS;
	mode = cfg->mode;
	len = cfg->table_len;
	if (len == 0 || len > TABLE_MAX)
		return SK_PASS;

	hash = md->hash;
	switch (mode) {
	case MODE_HASH:
		/* reciprocal_scale(hash, len), as reuseport_select_sock_by_hash */
		slot = table_slot(half, (__u32)(((__u64)hash * len) >> 32));
		break;
	case MODE_SEQ:
		slot = seq_slot(half, len);
		break;
	case MODE_CPU:
		slot = table_slot(half, bpf_get_smp_processor_id() % len);
		break;
	case MODE_STICKY:
		v = bpf_map_lookup_elem(&flows, &hash);
		if (v && *v < MAX_SLOTS) {
			slot = *v;
		} else {
			slot = seq_slot(half, len);
			if (slot < MAX_SLOTS)
				bpf_map_update_elem(&flows, &hash, &slot, BPF_ANY);
		}
		break;
	default: /* MODE_PASS and anything unknown */
		return SK_PASS;
	}
	if (slot >= MAX_SLOTS)
		return SK_PASS;

	if (cfg->shadow) {
		st = slot_stats(slot);
		if (st)
			st->shadow++;
		return SK_PASS;
	}

	if (bpf_sk_select_reuseport(md, &slots, &slot, 0) == 0)
		goto selected;

	st = slot_stats(slot);
	if (st)
		st->fallback++;
	if (mode != MODE_STICKY)
		return SK_PASS;

	/* STICKY: the remembered slot is gone; re-pick once and remember. */
	slot = seq_slot(half, len);
	if (slot >= MAX_SLOTS)
		return SK_PASS;
	bpf_map_update_elem(&flows, &hash, &slot, BPF_ANY);
	if (bpf_sk_select_reuseport(md, &slots, &slot, 0) == 0)
		goto selected;
	st = slot_stats(slot);
	if (st)
		st->fallback++;
	return SK_PASS;

selected:
	st = slot_stats(slot);
	if (st) {
		st->selected++;
		if (md->migrating_sk)
			st->migrated++;
	}
	return SK_PASS;
}

SEC("sk_reuseport")
int steer_select(struct sk_reuseport_md *md)
{
	return pick(md);
}

SEC("sk_reuseport/migrate")
int steer_migrate(struct sk_reuseport_md *md)
{
	return pick(md);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
