// SPDX-License-Identifier: GPL-2.0
// peerwatch: the structs and numbers that bpf/peerwatch.bpf.c, native/peerwatch.cc and
// src/health/bpfrecords.ts all read. Change one, change the other two (the TypeScript side
// checks PW_EVENT_SIZE and PW_ABI_VERSION against what the addon reports at load).
#ifndef ROUTELET_PEERWATCH_H
#define ROUTELET_PEERWATCH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PW_ABI_VERSION 3

// ---- the peer map: key (family, address, port) -> (slot, flags). Both the peer map and the
// counters are hash maps without preallocation: memory follows the entries in use.
//
// A socket matches (remote address, remote port) first, then (remote address, 0); the entry
// must carry PW_F_SOCKETS. Neighbour and TCP-MD5 evidence is matched by address alone: the
// entry (address, 0) with PW_F_NEIGH or PW_F_MD5. IPv4-mapped IPv6 remotes (a dual-stack
// listener's children) are looked up as IPv4.
struct pw_peer_key {
	__u8 addr[16];  // IPv4 in the first 4 bytes, the rest zero
	__u16 family;   // AF_INET (2) or AF_INET6 (10)
	__u16 port;     // host order; 0 = any port
};

#define PW_F_SOCKETS 0x1  // socket evidence: errors, state, resets, retransmissions, RTOs
#define PW_F_NEIGH 0x2    // the neighbour entry of this address going FAILED
#define PW_F_MD5 0x4      // TCP-MD5 failures on segments from this address

struct pw_peer_val {
	__u32 slot;      // key of the entry's per-CPU counters, 0 … max_peers-1
	__u32 flags;     // PW_F_*
	// written by the programs: time of the last TCP-MD5 event of each kind (mismatch, required,
	// unexpected), the rate limit's state. One per kind: each names a different mistake, and a
	// peer retrying a wrong key must not hide that another of its connections sends none.
	__u64 md5_last[3];
};

// ---- event kinds (also the per-peer counter indexes 0 … PW_KIND_COUNT-1)
enum pw_kind {
	PW_STATE = 0,           // TCP state change (inet_sock_set_state)
	PW_REFUSED = 1,         // connection error ECONNREFUSED (inet_sk_error_report)
	PW_UNREACHABLE = 2,     // EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, EACCES
	PW_TIMEOUT = 3,         // ETIMEDOUT: connect or retransmission timeout expired
	PW_ERROR = 4,           // any other socket error (errno in err)
	PW_RESET = 5,           // RST received on a synchronized connection (tcp_receive_reset)
	PW_HOST_GONE = 6,       // RTO retransmission with an unreachable soft error (sk_err_soft)
	PW_RTO = 7,             // RTO retransmission on a synchronized connection, no soft error
	PW_SYN_UNANSWERED = 8,  // SYN retransmitted: no answer at all
	PW_NEIGH_FAILED = 9,    // neighbour entry of the address went FAILED
	PW_MD5_MISMATCH = 10,   // segment from the peer with a wrong TCP-MD5 signature
	PW_MD5_REQUIRED = 11,   // segment from the peer without TCP-MD5, a key is configured
	PW_MD5_UNEXPECTED = 12, // segment from the peer with TCP-MD5, no key is configured
	PW_KIND_COUNT = 13,
};

// Per-peer counters: one per kind, then these.
#define PW_C_RETRANSMITS 13  // every retransmitted segment to the peer (fast or RTO)
#define PW_COUNTERS 14

struct pw_counters {
	__u64 v[PW_COUNTERS];
};

// Global counters (one per-CPU entry).
#define PW_G_EVENTS 0          // events written to the ring buffer
#define PW_G_RINGBUF_FULL 1    // events lost: ring buffer full
#define PW_G_MD5_SUPPRESSED 2  // TCP-MD5 events not sent (rate limit); still counted per peer
#define PW_G_SOCKOPS_ARMED 3   // sockets to peers given the RTO callback
#define PW_G_RTO_MIN_SET 4     // sockets to peers whose minimum RTO was lowered (TCP_USER_TIMEOUT set)
#define PW_GLOBALS 5

struct pw_globals {
	__u64 v[PW_GLOBALS];
};

// Event flags.
#define PW_EV_SOCKOPS 0x1  // reported by the sockops program (RTO callback)
#define PW_EV_EXPIRED 0x2  // RTO callback: the retry limit is reached, ETIMEDOUT follows
#define PW_EV_MAPPED 0x4   // the socket is IPv6 and the peer an IPv4-mapped address
#define PW_EV_QUEUED 0x8   // the errno is that of an ICMP error queued on a connecting socket
#define PW_EV_AT_CLOSE 0x10  // the error closed the socket (reported at its state change)

// ---- one ring-buffer record (64 bytes, no implicit padding)
struct pw_event {
	__u64 ts_ns;       // bpf_ktime_get_ns(): CLOCK_MONOTONIC, as process.hrtime
	__u8 addr[16];     // the peer (for PW_NEIGH_FAILED: the neighbour)
	__u16 family;      // AF_INET / AF_INET6 of addr
	__u16 rport;       // remote port, host order (0 for neighbours)
	__u16 lport;       // local port, host order
	__u8 kind;         // enum pw_kind
	__u8 oldstate;     // TCP state before (TCP_ESTABLISHED = 1 …); NUD state for neighbours
	__u8 newstate;     // TCP state after / now
	__u8 retransmits;  // RTO count of the socket (icsk_retransmits)
	__u16 flags;       // PW_EV_*
	__s32 err;         // errno, positive: sk_err, or the transmit error of a retransmission
	__s32 soft_err;    // sk_err_soft, positive, 0 = none
	__u32 slot;        // slot of the matching peer-map entry
	__u32 netns;       // network namespace inode of the socket / neighbour
	__u32 pad;
	__u64 cookie;      // socket cookie (0 for neighbours)
};

#define PW_EVENT_SIZE 64

#endif
