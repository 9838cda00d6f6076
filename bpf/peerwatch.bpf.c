// SPDX-License-Identifier: GPL-2.0
// peerwatch: socket-level evidence about BGP peers, for graceful restart's fast unlock.
//
// tp_btf programs see every TCP socket and neighbour entry of the host; the peer map
// (filled by the agent) decides which ones matter. The sockops program, attached to the
// agent's cgroup v2, arms the RTO callback on the agent's own sockets to peers.
// Evidence goes to a ring buffer (struct pw_event); per-peer per-CPU counters count every
// occurrence, including those not reported as events (rate limit, full ring buffer).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "peerwatch.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

#define EPIPE 32
#define EACCES 13
#define ENETDOWN 100
#define ENETUNREACH 101
#define ECONNRESET 104
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define EHOSTDOWN 112
#define EHOSTUNREACH 113

#define NUD_FAILED 0x20

// ---- load-time settings (set by the loader before load)
const volatile __u32 netns_ino = 0;                         // 0: every network namespace
const volatile __u64 md5_event_interval_ns = 1000000000ULL;  // at most one MD5 event per peer, kind and interval
const volatile __u32 syn_rto_ms = 0;                         // first SYN retransmission to a peer; 0: the kernel's 1 s

// the kernel's tick rate, for the SYN timeout the sockops program returns in jiffies (libbpf
// reads it from /proc/config.gz; 0 when it cannot, and the kernel's own timeout stays)
extern unsigned int CONFIG_HZ __kconfig __weak;

// ---- maps (sizes set by the loader before load)
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct pw_peer_key);
	__type(value, struct pw_peer_val);
} peers SEC(".maps");

// per-CPU counters by slot; the loader creates each slot's entry when it adds the peer
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct pw_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_globals);
} globals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

// per watched socket: what was reported already, so each fact becomes one event
struct pw_sk {
	__u64 last_qskb;  // the error-queue skb last reported (an ICMP error queued in SYN_SENT)
	__s32 last_err;   // the errno last reported
	__u8 last_rto;    // the RTO count last reported (sockops callback and tracepoint alike)
	__u8 prev_state;  // the state a socket closed from
	__u8 rtt_cbs;     // RTT callbacks seen while looking for the socket's TCP_USER_TIMEOUT
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pw_sk);
} sk_state SEC(".maps");

// ---- helpers

static __always_inline void global_inc(__u32 idx)
{
	__u32 zero = 0;
	struct pw_globals *g = bpf_map_lookup_elem(&globals, &zero);
	if (g && idx < PW_GLOBALS)
		__sync_fetch_and_add(&g->v[idx], 1);
}

static __always_inline void count(__u32 slot, __u32 idx)
{
	struct pw_counters *c = bpf_map_lookup_elem(&counters, &slot);
	if (c && idx < PW_COUNTERS)
		__sync_fetch_and_add(&c->v[idx], 1);
}

static __always_inline bool netns_ok(__u32 ino)
{
	return netns_ino == 0 || ino == netns_ino;
}

static __always_inline bool unreachable_errno(int err)
{
	return err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN || err == ENETDOWN || err == EACCES;
}

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4 key.
static __always_inline bool unmap(struct pw_peer_key *k)
{
	__u32 *w = (__u32 *)k->addr;
	if (k->family != AF_INET6 || w[0] != 0 || w[1] != 0 || w[2] != bpf_htonl(0xffff))
		return false;
	w[0] = w[3];
	w[2] = 0;
	w[3] = 0;
	k->family = AF_INET;
	return true;
}

// The socket-evidence entry for a key: (address, port), else (address, any port).
static __always_inline struct pw_peer_val *lookup_sock(const struct pw_peer_key *k)
{
	struct pw_peer_key any = *k;
	struct pw_peer_val *v = bpf_map_lookup_elem(&peers, k);
	if (v && (v->flags & PW_F_SOCKETS))
		return v;
	if (k->port == 0)
		return 0;
	any.port = 0;
	v = bpf_map_lookup_elem(&peers, &any);
	if (v && (v->flags & PW_F_SOCKETS))
		return v;
	return 0;
}

// The address-level entry (address, 0) if it has `flag`.
static __always_inline struct pw_peer_val *lookup_addr(struct pw_peer_key *k, __u32 flag)
{
	struct pw_peer_val *v;
	k->port = 0;
	v = bpf_map_lookup_elem(&peers, k);
	return v && (v->flags & flag) ? v : 0;
}

// The remote end of a full TCP socket, with its local port and namespace.
struct sock_id {
	struct pw_peer_key key;
	__u16 lport;
	__u16 flags;
	__u32 netns;
};

static __always_inline bool sock_remote(const struct sock *sk, struct sock_id *id)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__builtin_memset(id, 0, sizeof(*id));
	if (family == AF_INET) {
		__be32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(id->key.addr, &d, 4);
	} else if (family == AF_INET6) {
		bpf_core_read(id->key.addr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return false;
	}
	id->key.family = family;
	id->key.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (unmap(&id->key))
		id->flags |= PW_EV_MAPPED;
	// skc_num is cleared when a closing socket gives its port back; inet_sport stays
	id->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (id->lport == 0)
		id->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	id->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return true;
}

// A watched TCP socket: its id and peer-map entry, or NULL.
static __always_inline struct pw_peer_val *watched_tcp(const struct sock *sk, struct sock_id *id)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (!sock_remote(sk, id) || !netns_ok(id->netns))
		return 0;
	return lookup_sock(&id->key);
}

static __always_inline struct pw_event *reserve(const struct pw_peer_key *k, __u32 kind, __u32 slot, __u32 netns)
{
	struct pw_event *e = bpf_ringbuf_reserve(&events, sizeof(struct pw_event), 0);
	if (!e) {
		global_inc(PW_G_RINGBUF_FULL);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(e->addr, k->addr, 16);
	e->family = k->family;
	e->rport = k->port;
	e->kind = kind;
	e->slot = slot;
	e->netns = netns;
	return e;
}

static __always_inline void submit(struct pw_event *e)
{
	bpf_ringbuf_submit(e, 0);
	global_inc(PW_G_EVENTS);
}

static __always_inline void sock_event(const struct sock *sk, const struct sock_id *id, __u32 kind, __u32 slot,
				       int oldstate, int newstate, int err, int soft, __u32 rto, __u16 flags, __u64 cookie)
{
	struct pw_event *e = reserve(&id->key, kind, slot, id->netns);
	if (!e)
		return;
	e->lport = id->lport;
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->err = err;
	e->soft_err = soft;
	e->retransmits = rto;
	e->flags = id->flags | flags;
	e->cookie = cookie;
	submit(e);
}

static __always_inline __u32 error_kind(int err)
{
	return err == ECONNREFUSED ? PW_REFUSED
	     : unreachable_errno(err) ? PW_UNREACHABLE
	     : err == ETIMEDOUT ? PW_TIMEOUT
	     : PW_ERROR;
}

static __always_inline void error_event(const struct sock *sk, const struct sock_id *id, __u32 slot, int oldstate,
					int newstate, int err, __u16 flags)
{
	__u32 kind = error_kind(err);
	count(slot, kind);
	sock_event(sk, id, kind, slot, oldstate, newstate, err, BPF_CORE_READ(sk, sk_err_soft),
		   BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_retransmits), flags,
		   bpf_get_socket_cookie((void *)sk));
}

#define SO_EE_ORIGIN_LOCAL 1
#define SO_EE_ORIGIN_ICMP 2
#define SO_EE_ORIGIN_ICMP6 3

// The errno of the ICMP (or local) error last queued on the socket's error queue: how an
// ICMP unreachable reaches a connecting socket that keeps retrying its SYN.
static __always_inline int queued_errno(const struct sock *sk, __u64 *skb_id)
{
	if (BPF_CORE_READ(sk, sk_error_queue.qlen) == 0)
		return 0;
	struct sk_buff *q = BPF_CORE_READ(sk, sk_error_queue.prev);
	if (!q)
		return 0;
	struct sock_extended_err ee = {};
	void *cb = (void *)q + bpf_core_field_offset(struct sk_buff, cb);
	if (bpf_probe_read_kernel(&ee, sizeof(ee), cb + bpf_core_field_offset(struct sock_exterr_skb, ee)))
		return 0;
	if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6 && ee.ee_origin != SO_EE_ORIGIN_LOCAL)
		return 0;
	*skb_id = (__u64)q;
	return ee.ee_errno;
}

// ---- connection errors: ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT … A socket closed by an
// error is reported at the state change (below), where sk_err is set and no reader has
// taken it yet; this reports the errors that leave the socket open: an ICMP error queued
// on a connecting socket, or a hard error on one with IP_RECVERR.
SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(pw_error_report, const struct sock *sk)
{
	struct sock_id id;
	struct pw_peer_val *v = watched_tcp(sk, &id);
	if (!v)
		return 0;
	struct pw_sk *st = bpf_sk_storage_get(&sk_state, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return 0;
	int state = BPF_CORE_READ(sk, __sk_common.skc_state);
	int err = BPF_CORE_READ(sk, sk_err);
	__u16 flags = 0;
	if (err != 0) {
		// resets: tcp_receive_reset; a close: the state change
		if (err == ECONNRESET || err == EPIPE || (state == TCP_CLOSE && err == st->last_err))
			return 0;
	} else {
		__u64 skb_id = 0;
		err = queued_errno(sk, &skb_id);
		if (err == 0 || skb_id == st->last_qskb)
			return 0;
		st->last_qskb = skb_id;
		flags = PW_EV_QUEUED;
	}
	st->last_err = err;
	__u32 slot = v->slot;
	error_event(sk, &id, slot, state == TCP_CLOSE ? st->prev_state : state, state, err, flags);
	return 0;
}

// ---- state changes; a close with sk_err set is also the error event
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(pw_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct sock_id id;
	struct pw_peer_val *v = watched_tcp(sk, &id);
	if (!v)
		return 0;
	__u32 slot = v->slot;
	int err = BPF_CORE_READ(sk, sk_err);
	count(slot, PW_STATE);
	sock_event(sk, &id, PW_STATE, slot, oldstate, newstate, err, BPF_CORE_READ(sk, sk_err_soft), 0, 0,
		   bpf_get_socket_cookie((void *)sk));
	if (newstate != TCP_CLOSE)
		return 0;
	struct pw_sk *st = bpf_sk_storage_get(&sk_state, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st)
		st->prev_state = oldstate;
	if (err == 0 || err == ECONNRESET || err == EPIPE)
		return 0;
	if (st) {
		if (st->last_err == err && oldstate == TCP_SYN_SENT)
			return 0;  // the ICMP error that ends this connect was reported as it came
		st->last_err = err;
	}
	error_event(sk, &id, slot, oldstate, newstate, err, PW_EV_AT_CLOSE);
	return 0;
}

// ---- resets received (an RST to a SYN is reported as ECONNREFUSED by the error report)
SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(pw_receive_reset, struct sock *sk)
{
	struct sock_id id;
	struct pw_peer_val *v = watched_tcp(sk, &id);
	if (!v)
		return 0;
	int state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state == TCP_SYN_SENT || state == TCP_CLOSE)
		return 0;
	__u32 slot = v->slot;
	count(slot, PW_RESET);
	sock_event(sk, &id, PW_RESET, slot, state, TCP_CLOSE, state == TCP_CLOSE_WAIT ? EPIPE : ECONNRESET,
		   BPF_CORE_READ(sk, sk_err_soft), 0, 0, bpf_get_socket_cookie((void *)sk));
	return 0;
}

// ---- retransmission timeouts: reported once per RTO, by whichever hook sees it first
static __always_inline void rto_evidence(const struct sock *sk, const struct sock_id *id, __u32 slot, __u32 rto,
					 int soft, int xmit_err, __u16 flags, __u64 cookie)
{
	struct pw_sk *st = bpf_sk_storage_get(&sk_state, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st) {
		if (st->last_rto == (__u8)rto)
			return;
		st->last_rto = rto;
	}
	int state = BPF_CORE_READ(sk, __sk_common.skc_state);
	__u32 kind = state == TCP_SYN_SENT ? PW_SYN_UNANSWERED : unreachable_errno(soft) ? PW_HOST_GONE : PW_RTO;
	count(slot, kind);
	sock_event(sk, id, kind, slot, state, state, xmit_err, soft, rto, flags, cookie);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(pw_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	struct sock_id id;
	struct pw_peer_val *v = watched_tcp(sk, &id);
	if (!v)
		return 0;
	__u32 slot = v->slot;
	count(slot, PW_C_RETRANSMITS);
	// icsk_retransmits counts retransmission timeouts; fast retransmits and loss probes leave it 0
	__u32 rto = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_retransmits);
	if (rto == 0)
		return 0;
	rto_evidence(sk, &id, slot, rto, BPF_CORE_READ(sk, sk_err_soft), err < 0 ? -err : err, 0,
		     bpf_get_socket_cookie((void *)sk));
	return 0;
}

// ---- sockops: a session with TCP_USER_TIMEOUT (ROUTELET_TCP_USER_TIMEOUT) gets a minimum RTO
// of a sixth of it (10–200 ms), so that several retransmissions fit in the timeout: one lost
// segment is repaired in time, and only a host that stays silent fails the connection. The
// kernel's 200 ms minimum would allow one retransmission (the loss probe) in a 300 ms timeout.
#define SOL_TCP 6
#define RTT_CBS_MAX 16  // RTT callbacks to wait for the user timeout; then stop looking

static __always_inline void user_timeout_rto(struct bpf_sock_ops *ops, struct tcp_sock *tp)
{
	__u32 ut = tp->inet_conn.icsk_user_timeout;  // milliseconds
	int done = 0;
	if (ut) {
		int us = ut * 1000 / 6;
		if (us < 10000)
			us = 10000;
		if (us > 200000)
			us = 200000;
		if (bpf_setsockopt(ops, SOL_TCP, TCP_BPF_RTO_MIN, &us, sizeof(us)) == 0)
			global_inc(PW_G_RTO_MIN_SET);
		done = 1;
	} else {
		struct pw_sk *st = bpf_sk_storage_get(&sk_state, (void *)tp, 0, BPF_SK_STORAGE_GET_F_CREATE);
		done = !st || ++st->rtt_cbs >= RTT_CBS_MAX;
	}
	if (done)
		bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_RTT_CB_FLAG);
}

// ---- sockops: arm the RTO callback on sockets to peers; report each RTO with the soft error
SEC("sockops")
int pw_sockops(struct bpf_sock_ops *ops)
{
	__u32 op = ops->op;
	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_RTO_CB &&
	    op != BPF_SOCK_OPS_TIMEOUT_INIT && op != BPF_SOCK_OPS_RTT_CB)
		return 1;
	if (op == BPF_SOCK_OPS_TIMEOUT_INIT && (syn_rto_ms == 0 || CONFIG_HZ == 0))
		return 1;
	struct bpf_sock *bsk = ops->sk;
	if (!bsk)
		return 1;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
	if (!tp)
		return 1;
	const struct sock *sk = (const struct sock *)tp;
	struct sock_id id;
	if (!sock_remote(sk, &id) || !netns_ok(id.netns))
		return 1;
	struct pw_peer_val *v = lookup_sock(&id.key);
	if (!v)
		return 1;
	if (op == BPF_SOCK_OPS_TIMEOUT_INIT) {
		// our SYN to a peer: on a LAN its answer comes in well under a millisecond, so the
		// first retransmission (the "SYN unanswered" evidence) need not wait the kernel's 1 s
		__u32 j = syn_rto_ms * CONFIG_HZ / 1000;
		ops->reply = j ? j : 1;
		return 1;
	}
	if (op == BPF_SOCK_OPS_RTO_CB) {
		// args: icsk_retransmits before this timeout, icsk_rto, expired
		__u16 flags = PW_EV_SOCKOPS | (ops->args[2] ? PW_EV_EXPIRED : 0);
		rto_evidence(sk, &id, v->slot, ops->args[0] + 1, tp->inet_conn.icsk_inet.sk.sk_err_soft, 0, flags,
			     bpf_get_socket_cookie(ops));
		return 1;
	}
	if (op == BPF_SOCK_OPS_RTT_CB) {
		user_timeout_rto(ops, tp);
		return 1;
	}
	if (!(ops->bpf_sock_ops_cb_flags & BPF_SOCK_OPS_RTO_CB_FLAG)) {
		// RTT callbacks until the agent's TCP_USER_TIMEOUT shows (it is set in user space just
		// after the kernel reports the connection established, so not visible yet here)
		bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_RTO_CB_FLAG | BPF_SOCK_OPS_RTT_CB_FLAG);
		global_inc(PW_G_SOCKOPS_ARMED);
	}
	return 1;
}

// ---- neighbour entries going FAILED (the peer's, or its gateway's)
static __always_inline int neigh_evidence(struct neighbour *n)
{
	__u8 nud = BPF_CORE_READ(n, nud_state);
	if (!(nud & NUD_FAILED))
		return 0;
	__u32 netns = BPF_CORE_READ(n, dev, nd_net.net, ns.inum);
	if (!netns_ok(netns))
		return 0;
	struct pw_peer_key k;
	__builtin_memset(&k, 0, sizeof(k));
	int family = BPF_CORE_READ(n, tbl, family);
	if (family == AF_INET)
		bpf_core_read(k.addr, 4, &n->primary_key);
	else if (family == AF_INET6)
		bpf_core_read(k.addr, 16, &n->primary_key);
	else
		return 0;
	k.family = family;
	struct pw_peer_val *v = lookup_addr(&k, PW_F_NEIGH);
	if (!v)
		return 0;
	__u32 slot = v->slot;
	count(slot, PW_NEIGH_FAILED);
	struct pw_event *e = reserve(&k, PW_NEIGH_FAILED, slot, netns);
	if (!e)
		return 0;
	e->newstate = nud;
	e->err = EHOSTUNREACH;
	submit(e);
	return 0;
}

SEC("tp_btf/neigh_timer_handler")
int BPF_PROG(pw_neigh_timer, struct neighbour *n, int err)
{
	return neigh_evidence(n);
}

SEC("tp_btf/neigh_update_done")
int BPF_PROG(pw_neigh_update, struct neighbour *n, int err)
{
	return neigh_evidence(n);
}

// ---- TCP-MD5: segments from a peer dropped for their signature. The socket may be a
// listener, a request or a time-wait socket: only its sock_common is read; the peer is the
// segment's source.
static __always_inline int md5_evidence(const struct sock *sk, const struct sk_buff *skb, __u32 kind)
{
	__u32 netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (!netns_ok(netns))
		return 0;
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned char *data = BPF_CORE_READ(skb, data);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u8 vhl = 0;
	struct pw_peer_key k;
	__builtin_memset(&k, 0, sizeof(k));
	if (bpf_probe_read_kernel(&vhl, 1, head + nh))
		return 0;
	if ((vhl >> 4) == 4) {
		bpf_probe_read_kernel(k.addr, 4, head + nh + 12);
		k.family = AF_INET;
	} else if ((vhl >> 4) == 6) {
		bpf_probe_read_kernel(k.addr, 16, head + nh + 8);
		k.family = AF_INET6;
	} else {
		return 0;
	}
	__be16 ports[2] = {};
	bpf_probe_read_kernel(ports, sizeof(ports), data);  // data is the TCP header here
	struct pw_peer_val *v = lookup_addr(&k, PW_F_MD5);
	if (!v)
		return 0;
	__u32 slot = v->slot;
	count(slot, kind);
	__u64 now = bpf_ktime_get_ns();
	__u32 i = kind - PW_MD5_MISMATCH;
	if (i > 2)
		return 0;
	__u64 last = v->md5_last[i];
	if (last != 0 && now - last < md5_event_interval_ns) {
		global_inc(PW_G_MD5_SUPPRESSED);
		return 0;
	}
	v->md5_last[i] = now;
	k.port = bpf_ntohs(ports[0]);
	struct pw_event *e = reserve(&k, kind, slot, netns);
	if (!e)
		return 0;
	e->lport = bpf_ntohs(ports[1]);
	e->oldstate = e->newstate = BPF_CORE_READ(sk, __sk_common.skc_state);
	submit(e);
	return 0;
}

SEC("tp_btf/tcp_hash_md5_mismatch")
int BPF_PROG(pw_md5_mismatch, const struct sock *sk, const struct sk_buff *skb)
{
	return md5_evidence(sk, skb, PW_MD5_MISMATCH);
}

SEC("tp_btf/tcp_hash_md5_required")
int BPF_PROG(pw_md5_required, const struct sock *sk, const struct sk_buff *skb)
{
	return md5_evidence(sk, skb, PW_MD5_REQUIRED);
}

SEC("tp_btf/tcp_hash_md5_unexpected")
int BPF_PROG(pw_md5_unexpected, const struct sock *sk, const struct sk_buff *skb)
{
	return md5_evidence(sk, skb, PW_MD5_UNEXPECTED);
}
