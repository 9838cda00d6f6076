// SPDX-License-Identifier: GPL-2.0
// Capability probe for `routelet agent --check`: the smallest tp_btf and sockops programs
// that prove the kernel loads, attaches and runs what routelet's real programs need.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

// Set by the loader before load: the loopback port of the probe's own connection.
const volatile __u16 probe_port = 0;

__u64 tp_hits = 0;
__u64 sockops_hits = 0;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(probe_state, const struct sock *sk, int oldstate, int newstate)
{
	__u16 sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (sport == probe_port || dport == probe_port)
		__sync_fetch_and_add(&tp_hits, 1);
	return 0;
}

SEC("sockops")
int probe_sockops(struct bpf_sock_ops *ops)
{
	__u16 remote = bpf_ntohl(ops->remote_port);
	if (ops->local_port == probe_port || remote == probe_port)
		__sync_fetch_and_add(&sockops_hits, 1);
	return 1;
}
