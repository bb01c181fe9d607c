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
 *     SEC("sk_reuseport")          int steer_select_tcp(struct sk_reuseport_md *)
 *     SEC("sk_reuseport/migrate")  int steer_migrate_tcp(struct sk_reuseport_md *)
 *         the same two without the dissectors (TCP groups); user space loads only the one it
 *         attaches (bpf_program__set_autoload), so the verifier checks one program per group
 *
 *
 * ------------------------------------------------------- dissectors (UDP only)
 *
 *   #define MAX_GENS 256                   socket generations, numbered 0..255 (wrapping)
 *   #define CID_MAX 20                     longest QUIC v1 connection id
 *
 *   enum { DISSECT_NONE = 0, DISSECT_QUIC = 1, DISSECT_OFFSET = 2, DISSECT_FLOW = 3 };
 *   enum { GEN_UNUSED = 0, GEN_LIVE = 1, GEN_RETIRED = 2 };
 *
 *   struct dcfg {                          32 bytes, no padding
 *       __u32 kind;          offset 0      one of DISSECT_*
 *       __u32 cid_len;       offset 4      QUIC: the server's CID length, 9..20
 *       __u32 rotation;      offset 8      QUIC: config rotation bits of its CIDs, 0..2
 *       __u32 offset;        offset 12     OFFSET: payload offset of the key, 0..65535
 *       __u32 size;          offset 16     OFFSET: key size, 2 or 4
 *       __u32 working;       offset 20     the working generation, 0..255
 *       __u64 idle_ns;       offset 24     FLOW: a flow idle this long is new again
 *   };
 *
 *   struct gen {                           12 bytes, no padding
 *       __u32 key;           offset 0      check-bit key of the generation's cookies
 *       __u16 base;          offset 4      first slot of the generation
 *       __u16 count;         offset 6      its slots: base .. base+count-1
 *       __u32 state;         offset 8      one of GEN_*
 *   };
 *
 *   struct dstats {                        64 bytes, per CPU, sum over CPUs
 *       __u64 cookie;        offset 0      steered by a valid cookie
 *       __u64 no_cookie;     offset 8      no valid cookie: the policy steered
 *       __u64 gone;          offset 16     a valid cookie for a slot that is gone
 *       __u64 malformed;     offset 24     could not be parsed: the policy steered
 *       __u64 flow_hit;      offset 32     FLOW: the packet's flow was known
 *       __u64 flow_miss;     offset 40     FLOW: a new flow (policy, then remembered)
 *       __u64 flow_expired;  offset 48     FLOW: subset of flow_miss, idle too long
 *       __u64 reserved;      offset 56
 *   };
 *
 *   struct flow_key {                      40 bytes: src[4] dst[4] (IPv4 in [0]),
 *       __u32 src[4], dst[4];              then the UDP ports as on the wire,
 *       __u16 sport, dport;                then md->eth_protocol
 *       __u32 family;
 *   };
 *   struct flow_val { __u64 seen_ns; __u32 slot; __u32 gen; };   16 bytes
 *
 *     dcfg    ARRAY key __u32 half, value struct dcfg, max_entries 2
 *     dactive ARRAY key __u32 (0), value __u32: dcfg half in force, 0 or 1
 *     gens    ARRAY key __u32 generation, value struct gen, max_entries MAX_GENS
 *     dstats  PERCPU_ARRAY key __u32 DISSECT_* kind, value struct dstats, max 4
 *     dflows  LRU_HASH key struct flow_key, value struct flow_val, max 65536
 *
 *   Cookie (QUIC-LB plaintext CID layout, server id of 4 octets):
 *     octet 0      config rotation (2 bits) << 6 | (CID length - 1) (6 bits)
 *     octet 1      generation          } the server id: what an L4 load
 *     octet 2      worker (slot - base) }  balancer routes on
 *     octets 3-4   check = cookie_check(gens[generation].key, generation, worker),
 *                  big-endian 16 bits
 *     octets 5..   nonce (at least 4 octets: CID length >= 9)
 *   Offset keys are the server id alone: 4 bytes (generation, worker, check)
 *   or 2 bytes (generation, worker; no check).
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
 * Dissectors (dcfg[dactive[0]], UDP packets only; TCP and mode PASS skip them):
 *  - QUIC: long header (first bit 1): octets 1-4 version, octet 5 DCID
 *    length n (<= 20), DCID at 6; short header: DCID of cid_len octets at 1.
 *    A DCID of cid_len octets whose first octet holds the configured rotation
 *    and length, whose generation is not UNUSED and whose check bits match
 *    that generation's key is a cookie: LIVE with worker < count -> slot
 *    base + worker (cookie++), else gone++. Any other DCID is no cookie: the
 *    policy steers with the FNV-1a hash of the DCID in place of md->hash, and
 *    every mode but HASH remembers its choice in flows[] under that hash, so
 *    all Initial/0-RTT packets of one handshake reach one socket whatever
 *    their source port.
 *  - OFFSET: the key at payload offset `offset`, resolved like a cookie.
 *  - FLOW: the 4-tuple (addresses from the network header, ports from the
 *    UDP header) in dflows: known, seen within idle_ns, its generation LIVE
 *    with the slot inside it, or UNUSED (never set up: no bound) -> that
 *    slot (flow_hit++, seen refreshed); else
 *    flow_miss++ (+ flow_expired++ or gone++), the policy steers, and a
 *    successful selection is remembered as { now, slot, working }.
 *  - A selected-but-empty cookie/flow slot counts gone++ and stats.fallback,
 *    then the policy steers. Truncated or malformed packets (shorter than
 *    the header, DCID length > 20, DCID or key past the end) count
 *    malformed++ and the policy steers with md->hash. Every packet read goes
 *    through bpf_skb_load_bytes(_relative) with a verifier-bounded length:
 *    nothing is read past the packet, and nothing is dropped.
 *
 * Map lookups per packet: active, config, table, stats (+ seq for SEQ and a
 * STICKY miss, + flows for STICKY). A UDP packet adds dactive and dcfg;
 * with a dissector also dstats, gens for a cookie (+ flows when QUIC keys
 * the policy by DCID), or dflows and gens for FLOW. ARRAY and PERCPU_ARRAY
 * lookups are inlined by the verifier; counters are plain per-CPU
 * increments.
 *
 * Generations: user space sets gens[g] up (LIVE, base, count, key) before
 * it hands out a cookie of g, and changes base/count/key only while g is
 * RETIRED or UNUSED, so a reader never meets a half-written range. Numbers
 * wrap (255 -> 0); a reused number gets a new key, so the cookies of its
 * earlier holder fail the check bits ("no cookie").
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <linux/in.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_SLOTS 256
#define TABLE_MAX 65537 /* entries per table half */
#define MAX_GENS 256
#define CID_MAX 20
#define CID_MIN 9 /* first octet + 4-octet server id + 4-octet nonce */
#define UDP_HLEN 8

enum { MODE_PASS = 0, MODE_HASH = 1, MODE_SEQ = 2, MODE_STICKY = 3, MODE_CPU = 4 };
enum { DISSECT_NONE = 0, DISSECT_QUIC = 1, DISSECT_OFFSET = 2, DISSECT_FLOW = 3 };
enum { GEN_UNUSED = 0, GEN_LIVE = 1, GEN_RETIRED = 2 };
/* what a dissector found */
enum { R_NONE = 0, R_SLOT = 1, R_GONE = 2, R_MALFORMED = 3 };

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

struct dcfg {
	__u32 kind;
	__u32 cid_len;
	__u32 rotation;
	__u32 offset;
	__u32 size;
	__u32 working;
	__u64 idle_ns;
};

struct gen {
	__u32 key;
	__u16 base;
	__u16 count;
	__u32 state;
};

struct dstats {
	__u64 cookie;
	__u64 no_cookie;
	__u64 gone;
	__u64 malformed;
	__u64 flow_hit;
	__u64 flow_miss;
	__u64 flow_expired;
	__u64 reserved;
};

struct flow_key {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u32 family;
};

struct flow_val {
	__u64 seen_ns;
	__u32 slot;
	__u32 gen;
};

_Static_assert(sizeof(struct config) == 16, "struct config must be 16 bytes");
_Static_assert(sizeof(struct slot_stats) == 32, "struct slot_stats must be 32 bytes");
_Static_assert(sizeof(struct dcfg) == 32, "struct dcfg must be 32 bytes");
_Static_assert(sizeof(struct gen) == 12, "struct gen must be 12 bytes");
_Static_assert(sizeof(struct dstats) == 64, "struct dstats must be 64 bytes");
_Static_assert(sizeof(struct flow_key) == 40, "struct flow_key must be 40 bytes");
_Static_assert(sizeof(struct flow_val) == 16, "struct flow_val must be 16 bytes");

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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct dcfg);
	__uint(max_entries, 2);
} dcfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} dactive SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct gen);
	__uint(max_entries, MAX_GENS);
} gens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct dstats);
	__uint(max_entries, 4);
} dstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
	__uint(max_entries, 65536);
} dflows SEC(".maps");

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

/* Selects a slot; counts selected (and migrated) or fallback. 0 on success. */
static __always_inline int try_select(struct sk_reuseport_md *md, __u32 slot)
{
	struct slot_stats *st;

	if (bpf_sk_select_reuseport(md, &slots, &slot, 0) == 0) {
		st = slot_stats(slot);
		if (st) {
			st->selected++;
			if (md->migrating_sk)
				st->migrated++;
		}
		return 0;
	}
	st = slot_stats(slot);
	if (st)
		st->fallback++;
	return -1;
}

/* Shadow mode: counts what would have been selected. */
static __always_inline void count_shadow(__u32 slot)
{
	struct slot_stats *st = slot_stats(slot);

	if (st)
		st->shadow++;
}

/* 16 check bits of a cookie (generation, worker) under a generation's key. */
static __always_inline __u32 cookie_check(__u32 key, __u32 g, __u32 w)
{
	__u32 x = key ^ (((g << 8) | w) * 0x9E3779B1u);

	x ^= x >> 16;
	x *= 0x85EBCA6Bu;
	x ^= x >> 13;
	x *= 0xC2B2AE35u;
	x ^= x >> 16;
	return x & 0xffff;
}

/* A cookie (generation, worker, check) to a slot: R_SLOT, R_GONE or R_NONE. */
static __always_inline int resolve(__u32 g, __u32 w, __u32 check, int checked, __u32 *slot)
{
	struct gen *ge = bpf_map_lookup_elem(&gens, &g);
	__u32 s;

	if (!ge || ge->state == GEN_UNUSED)
		return R_NONE;
	if (checked && check != cookie_check(ge->key, g, w))
		return R_NONE;
	if (ge->state != GEN_LIVE || w >= ge->count)
		return R_GONE;
	s = (__u32)ge->base + w;
	if (s >= MAX_SLOTS)
		return R_GONE;
	*slot = s;
	return R_SLOT;
}

/*
 * QUIC: finds the DCID, hashes it into *hash (for the policy) and resolves
 * a cookie. plen is the UDP payload length.
 */
static __always_inline int dissect_quic(struct sk_reuseport_md *md, struct dcfg *dc, __u32 plen,
					__u32 *slot, __u32 *hash)
{
	__u8 h[6] = {}, cid[CID_MAX] = {};
	__u32 n, off, i, x, want = dc->cid_len;
	__u64 len;

	if (plen < 1 || bpf_skb_load_bytes(md, UDP_HLEN, h, 1))
		return R_MALFORMED;
	if (h[0] & 0x80) {
		if (plen < 6 || bpf_skb_load_bytes(md, UDP_HLEN, h, 6))
			return R_MALFORMED;
		n = h[5];
		off = 6;
	} else {
		n = want;
		off = 1;
	}
	if (n > CID_MAX || off + n > plen)
		return R_MALFORMED;
	if (n == 0)
		return R_NONE;
	/*
	 * A 64-bit copy hidden from clang, so that the verifier sees both bounds
	 * checked on the very register passed as the length.
	 */
	len = n;
	asm volatile("" : "+r"(len));
	if (len > CID_MAX)
		return R_MALFORMED;
	if (len == 0)
		return R_NONE;
	if (bpf_skb_load_bytes(md, UDP_HLEN + off, cid, len))
		return R_MALFORMED;
	x = 2166136261u; /* FNV-1a over the DCID */
	for (i = 0; i < CID_MAX; i++) {
		if (i >= n)
			break;
		x = (x ^ cid[i]) * 16777619u;
	}
	*hash = x;
	if (n != want || n < CID_MIN)
		return R_NONE;
	if ((__u32)(cid[0] >> 6) != dc->rotation || (__u32)(cid[0] & 0x3f) != n - 1)
		return R_NONE;
	return resolve(cid[1], cid[2], ((__u32)cid[3] << 8) | cid[4], 1, slot);
}

/* Cookie at an offset: a 2- or 4-byte server id. */
static __always_inline int dissect_offset(struct sk_reuseport_md *md, struct dcfg *dc, __u32 plen, __u32 *slot)
{
	__u8 b[4] = {};
	__u32 off = dc->offset;

	if (off > 0xffff)
		return R_MALFORMED;
	if (dc->size == 2) {
		if (off + 2 > plen || bpf_skb_load_bytes(md, UDP_HLEN + off, b, 2))
			return R_MALFORMED;
		return resolve(b[0], b[1], 0, 0, slot);
	}
	if (dc->size == 4) {
		if (off + 4 > plen || bpf_skb_load_bytes(md, UDP_HLEN + off, b, 4))
			return R_MALFORMED;
		return resolve(b[0], b[1], ((__u32)b[2] << 8) | b[3], 1, slot);
	}
	return R_NONE;
}

/* The flow's 4-tuple; 0 on success. */
static __always_inline int flow_key_of(struct sk_reuseport_md *md, struct flow_key *k)
{
	if (md->eth_protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes_relative(md, 12, k->src, 4, BPF_HDR_START_NET)
		    || bpf_skb_load_bytes_relative(md, 16, k->dst, 4, BPF_HDR_START_NET))
			return -1;
	} else if (md->eth_protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes_relative(md, 8, k->src, 16, BPF_HDR_START_NET)
		    || bpf_skb_load_bytes_relative(md, 24, k->dst, 16, BPF_HDR_START_NET))
			return -1;
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(md, 0, &k->sport, 4))
		return -1;
	k->family = md->eth_protocol;
	return 0;
}

/*
 * The policy: a slot from the table half in force, by mode, with `hash`
 * standing for the flow. sticky: remember the choice in flows[hash].
 * Returns the slot selected, or MAX_SLOTS when nothing was selected (shadow
 * mode, an unreadable table, or empty slots: the kernel hash then decides).
 */
static __always_inline __u32 policy(struct sk_reuseport_md *md, struct config *cfg, __u32 half, __u32 mode,
				    __u32 len, __u32 hash, int sticky)
{
	__u32 slot;
	__u32 *v;

	if (sticky) {
		v = bpf_map_lookup_elem(&flows, &hash);
		if (v && *v < MAX_SLOTS) {
			slot = *v;
		} else {
			switch (mode) {
			case MODE_HASH:
				slot = table_slot(half, (__u32)(((__u64)hash * len) >> 32));
				break;
			case MODE_CPU:
				slot = table_slot(half, bpf_get_smp_processor_id() % len);
				break;
			default:
				slot = seq_slot(half, len);
			}
			if (slot < MAX_SLOTS)
				bpf_map_update_elem(&flows, &hash, &slot, BPF_ANY);
		}
	} else {
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
		default:
			return MAX_SLOTS;
		}
	}
	if (slot >= MAX_SLOTS)
		return MAX_SLOTS;

	if (cfg->shadow) {
		count_shadow(slot);
		return MAX_SLOTS;
	}

	if (try_select(md, slot) == 0)
		return slot;
	if (!sticky)
		return MAX_SLOTS;

	/* sticky: the remembered slot is gone; re-pick once and remember. */
	slot = seq_slot(half, len);
	if (slot >= MAX_SLOTS)
		return MAX_SLOTS;
	bpf_map_update_elem(&flows, &hash, &slot, BPF_ANY);
	if (try_select(md, slot) == 0)
		return slot;
	return MAX_SLOTS;
}

/* FLOW dissector: a known flow's slot, else the policy, remembered. */
static __always_inline int steer_flow(struct sk_reuseport_md *md, struct config *cfg, __u32 half, __u32 mode,
				      __u32 len, struct dcfg *dc, struct dstats *ds)
{
	struct flow_key k = {};
	struct flow_val nv = {}, *fv;
	struct gen *ge;
	__u64 now;
	__u32 slot, g;

	if (flow_key_of(md, &k)) {
		if (ds)
			ds->malformed++;
		policy(md, cfg, half, mode, len, md->hash, mode == MODE_STICKY);
		return SK_PASS;
	}
	now = bpf_ktime_get_ns();
	fv = bpf_map_lookup_elem(&dflows, &k);
	if (fv) {
		slot = fv->slot;
		g = fv->gen;
		if (now - fv->seen_ns > dc->idle_ns) {
			if (ds)
				ds->flow_expired++;
		} else {
			ge = bpf_map_lookup_elem(&gens, &g);
			/* a generation never set up does not bound its flows */
			if (slot < MAX_SLOTS && ge && (ge->state == GEN_UNUSED || (ge->state == GEN_LIVE
			    && slot >= ge->base && slot < (__u32)ge->base + ge->count))) {
				if (cfg->shadow) {
					count_shadow(slot);
					if (ds)
						ds->flow_hit++;
					return SK_PASS;
				}
				if (try_select(md, slot) == 0) {
					fv->seen_ns = now;
					if (ds)
						ds->flow_hit++;
					return SK_PASS;
				}
			}
			if (ds)
				ds->gone++;
		}
	}
	if (ds)
		ds->flow_miss++;
	slot = policy(md, cfg, half, mode, len, md->hash, mode == MODE_STICKY);
	if (slot < MAX_SLOTS) {
		nv.seen_ns = now;
		nv.slot = slot;
		nv.gen = dc->working;
		bpf_map_update_elem(&dflows, &k, &nv, BPF_ANY);
	}
	return SK_PASS;
}

/* dissect: a constant per program; 0 (the TCP programs) lets the compiler drop every dissector, so the
 * verifier checks a short program and a TCP group opens fast. */
static __always_inline int pick(struct sk_reuseport_md *md, const int dissect)
{
	__u32 zero = 0, half, mode, len, hash, slot = MAX_SLOTS, kind = DISSECT_NONE, plen;
	struct dstats *ds = NULL;
	struct dcfg *dc = NULL;
	struct config *cfg;
	int sticky, r;
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
	if (mode != MODE_HASH && mode != MODE_SEQ && mode != MODE_STICKY && mode != MODE_CPU)
		return SK_PASS; /* MODE_PASS and anything unknown */

	hash = md->hash;
	sticky = mode == MODE_STICKY;

	if (dissect && md->ip_protocol == IPPROTO_UDP) {
		v = bpf_map_lookup_elem(&dactive, &zero);
		if (v && *v <= 1) {
			dc = bpf_map_lookup_elem(&dcfg, v);
			if (dc)
				kind = dc->kind;
		}
	}
	if (!dc || kind == DISSECT_NONE || kind > DISSECT_FLOW)
		goto by_policy;
	ds = bpf_map_lookup_elem(&dstats, &kind);
	if (kind == DISSECT_FLOW)
		return steer_flow(md, cfg, half, mode, len, dc, ds);

	plen = md->len;
	if (plen < UDP_HLEN) {
		r = R_MALFORMED;
	} else {
		plen -= UDP_HLEN;
		if (kind == DISSECT_QUIC)
			r = dissect_quic(md, dc, plen, &slot, &hash);
		else
			r = dissect_offset(md, dc, plen, &slot);
	}
	if (r == R_SLOT && slot < MAX_SLOTS) {
		if (cfg->shadow) {
			count_shadow(slot);
			if (ds)
				ds->cookie++;
			return SK_PASS;
		}
		if (try_select(md, slot) == 0) {
			if (ds)
				ds->cookie++;
			return SK_PASS;
		}
		r = R_GONE; /* the slot is empty: its socket closed */
	}
	if (ds) {
		if (r == R_GONE)
			ds->gone++;
		else if (r == R_MALFORMED)
			ds->malformed++;
		else
			ds->no_cookie++;
	}
	/* QUIC without a cookie: key the policy by the DCID, and remember it. */
	if (kind == DISSECT_QUIC && r != R_MALFORMED && mode != MODE_HASH)
		sticky = 1;

by_policy:
	policy(md, cfg, half, mode, len, hash, sticky);
	return SK_PASS;
}

SEC("sk_reuseport")
int steer_select(struct sk_reuseport_md *md)
{
	return pick(md, 1);
}

SEC("sk_reuseport/migrate")
int steer_migrate(struct sk_reuseport_md *md)
{
	return pick(md, 1);
}

/* The same without dissectors, for TCP groups: a dissector reads UDP datagrams only. */
SEC("sk_reuseport")
int steer_select_tcp(struct sk_reuseport_md *md)
{
	return pick(md, 0);
}

SEC("sk_reuseport/migrate")
int steer_migrate_tcp(struct sk_reuseport_md *md)
{
	return pick(md, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
