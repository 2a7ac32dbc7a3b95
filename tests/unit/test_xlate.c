// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of tcptop-collect's translation (tcptop-collect/xlate.c): kernel reports in,
 * stream records out, with a fake kernel behind the callbacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "xlate.h"

#define NS  4026531840u
#define SEC 1000000000ULL

static struct rec out[256];
static int nout;
static unsigned long nput[32]; /* records written by type (REC_CONN_*: low 5 bits), all kept */
static struct tt_udp_key final_key;
static struct tt_udp_val final_val;
static int finals, forgotten;

static int put(void *ctx, const struct rec *r)
{
	(void)ctx;
	nput[r->type & 31]++;
	if (nout < 256)
		out[nout++] = *r;
	return 0;
}

static int udp_final(void *ctx, const struct tt_udp_key *k, struct tt_udp_val *v)
{
	(void)ctx;
	finals++;
	if (memcmp(k, &final_key, sizeof(*k)))
		return -ENOENT;
	*v = final_val;
	return 0;
}

static void forget(void *ctx, uint64_t sock)
{
	(void)ctx;
	(void)sock;
	forgotten++;
}

static struct xlate *new_x_figs(uint32_t pid, uint16_t port, bool figs, unsigned hz)
{
	struct xlate_config c = { .own_netns = NS,
				  .udp_timeout_ns = 30 * SEC,
				  .pid = pid,
				  .port = port,
				  .want_tcp = true,
				  .want_udp = true,
				  .figs = figs,
				  .hz = hz };
	struct xlate_ops o = { .put = put, .udp_final = udp_final, .forget_owner = forget };

	nout = finals = forgotten = 0;
	return xlate_new(&c, &o);
}

static struct xlate *new_x(uint32_t pid, uint16_t port)
{
	return new_x_figs(pid, port, true, 250);
}

static struct tt_event tcp(uint8_t type, uint64_t sock, uint16_t lport, uint16_t rport,
			   uint8_t state, uint64_t in, uint64_t ts)
{
	struct tt_event e = { .type = type, .proto = 6, .family = 2, .state = state };

	e.sock = sock;
	e.lport = lport;
	e.rport = rport;
	e.netns = NS;
	e.laddr[0] = e.raddr[0] = 127;
	e.laddr[3] = e.raddr[3] = 1;
	e.c.bytes_in = in;
	e.c.bytes_out = in;
	e.ts = ts;
	return e;
}

static void owned(struct tt_event *e, uint32_t pid)
{
	e->flags |= TT_F_OWNER;
	e->owner.pid = pid;
	strcpy(e->owner.comm, "curl");
}

/* The types of the records written since the last call, as letters: O open, S sample,
 * T state, C close, W owner, I ifname, G cgroup. */
static const char *seq(void)
{
	static char s[257];
	int n = 0;

	for (int i = 0; i < nout; i++) {
		switch (out[i].type) {
		case REC_CONN_OPEN:
			s[n++] = 'O';
			break;
		case REC_CONN_SAMPLE:
			s[n++] = 'S';
			break;
		case REC_CONN_STATE:
			s[n++] = 'T';
			break;
		case REC_CONN_CLOSE:
			s[n++] = 'C';
			break;
		case REC_CONN_OWNER:
			s[n++] = 'W';
			break;
		case REC_IFNAME:
			s[n++] = 'I';
			break;
		case REC_CGROUP:
			s[n++] = 'G';
			break;
		default:
			s[n++] = '?';
		}
	}
	s[n] = 0;
	nout = 0;
	return s;
}

/* A period; full: a walk of every connection in it, whose reads all succeeded (whole), or not
 * (cut); else the records of a walk of what changed (no end drawn from it). */
static void pass_whole(struct xlate *x, bool full, bool whole, const struct tt_event *e, int n,
		       uint64_t now)
{
	xlate_tcp_period(x);
	xlate_tcp_walk_begin(x, full);
	for (int i = 0; i < n; i++)
		xlate_event(x, &e[i]);
	xlate_tcp_walk_end(x, now, whole);
}

static void pass(struct xlate *x, bool full, const struct tt_event *e, int n, uint64_t now)
{
	pass_whole(x, full, true, e, n, now);
}

static void test_tcp_life(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x1000, 40000, 80, 1, 100, 1);
	struct xlate_stats st;

	pass(x, true, &a, 1, 2);
	is_str(seq(), "O", "a connection the first pass meets is opened once");
	ok(out[0].u.open.flags & CONN_F_BEGUN_BEFORE, "... flagged begun before the collector");
	ok(out[0].u.open.flags & CONN_F_NO_OWNER, "... without owner when none is known");
	ok(out[0].u.open.c.bytes_in == 100, "... with the kernel's counters so far");
	nout = 0;
	pass(x, false, &a, 1, 3);
	is_str(seq(), "", "the same counters again write nothing");
	a.c.bytes_in = 250;
	owned(&a, 42);
	pass(x, false, &a, 1, 4);
	is_str(seq(), "WS", "an owner, then new counters: OWNER and SAMPLE");
	{
		/* the seq buffer filled: the kernel shows the same socket twice in a pass */
		struct tt_event twice[2] = { a, a };

		twice[1].c.bytes_in = 300;
		pass(x, false, twice, 2, 5);
		is_str(seq(), "S", "a record repeated by the iterator writes one SAMPLE");
	}
	{
		struct tt_event c = tcp(TT_EV_CLOSE, 0x1000, 40000, 80, 7, 400, 6);

		c.old_state = 4;
		xlate_event(x, &c);
		is_str(seq(), "STC", "the close: final counters, state, CLOSE");
		ok(out[2].u.close.c.bytes_in == 400, "... with the final counters");
		nout = 0;
		xlate_event(x, &c);
		is_str(seq(), "", "a second close of it writes nothing");
	}
	a.c.bytes_in = 500;
	pass(x, true, &a, 1, 7);
	is_str(seq(), "", "an iterator that met it just before it went is not an opening");
	xlate_stats(x, &st);
	ok(st.evicted == 0, "nothing evicted");
	xlate_free(x);
}

static void test_tcp_short_and_reuse(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x2000, 40001, 80, 1, 10, 1);
	struct tt_event c = tcp(TT_EV_CLOSE, 0x3000, 40002, 443, 7, 1001, 2);

	pass(x, true, NULL, 0, 1);
	c.old_state = 9;
	owned(&c, 7);
	xlate_event(x, &c);
	is_str(seq(), "OTC", "a connection born and gone between passes: OPEN, STATE, CLOSE");
	ok(out[0].u.open.state == 9 && out[0].u.open.pid == 7,
	   "... opened in its last state, with its owner");
	ok(!(out[0].u.open.flags & CONN_F_BEGUN_BEFORE), "... not begun before");
	nout = 0;
	pass(x, false, &a, 1, 3);
	is_str(seq(), "O", "a new connection in a later pass: OPEN");
	ok(!(out[0].u.open.flags & CONN_F_BEGUN_BEFORE), "... not begun before");
	nout = 0;
	/* the close of another socket that lived at a's address: a is untouched */
	c = tcp(TT_EV_CLOSE, 0x2000, 40009, 8080, 7, 5, 4);
	c.old_state = 2;
	xlate_event(x, &c);
	is_str(seq(), "OTC", "a close at a known address but of another socket is its own");
	ok(out[0].u.open.id.flow != 2 && out[0].u.open.state == 2,
	   "... a failed connect, opened in SYN_SENT");
	nout = 0;
	a.c.bytes_in = 20;
	pass(x, false, &a, 1, 5);
	is_str(seq(), "S", "the connection at that address lives on");
	xlate_free(x);
}

static void test_tcp_lost_close(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x4000, 40003, 80, 1, 10, 1);
	struct xlate_stats st;

	pass(x, true, &a, 1, 1);
	nout = 0;
	pass(x, false, NULL, 0, 2);
	is_str(seq(), "", "a pass of changes only says nothing of the unchanged");
	pass(x, true, NULL, 0, 3);
	is_str(seq(), "", "a full pass that misses a connection once does not end it");
	xlate_stats(x, &st);
	ok(st.suspects == 1 && st.evicted == 0, "... it is a suspect, for a walk the next period");
	pass(x, true, NULL, 0, 4);
	is_str(seq(), "C",
	       "the second full pass in a row that misses it ends it (its close was lost)");
	xlate_stats(x, &st);
	ok(st.evicted == 1 && st.suspects == 0, "... counted as evicted");
	xlate_free(x);
}

/* The kernel's iterator (before 6.16) resumes a read by offset in a bucket: a socket whose
 * bucket changed between two reads is skipped by that walk (the 5.10 matrix flake). */
static void test_tcp_skipped_once(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x4100, 40013, 80, 1, 10, 1);
	struct xlate_stats st;

	pass(x, true, &a, 1, 1);
	nout = 0;
	pass(x, true, NULL, 0, 2);
	a.c.bytes_in = 20;
	a.ts = 3;
	pass(x, true, &a, 1, 3);
	is_str(seq(), "S", "a connection one walk skipped and the next met lives on, one SAMPLE");
	pass(x, true, NULL, 0, 4);
	pass(x, false, &a, 1, 5);
	pass(x, true, NULL, 0, 6);
	is_str(seq(), "", "... a report between two walks that miss it: not two in a row");
	xlate_stats(x, &st);
	ok(st.evicted == 0, "nothing evicted");
	xlate_free(x);
}

/* A walk that failed or was cut short (iterator create or read error, EAGAIN) is no news of
 * the connections it did not report. */
static void test_tcp_pass_not_whole(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x4200, 40023, 80, 1, 10, 1);
	struct tt_event b = tcp(TT_IT_TCP, 0x4300, 40024, 80, 1, 10, 1);
	struct tt_event two[2] = { a, b };
	struct xlate_stats st;

	pass(x, true, two, 2, 1);
	nout = 0;
	for (int i = 0; i < 4; i++)
		pass_whole(x, true, false, &a, 1, 2 + i);
	is_str(seq(), "", "four full passes cut short that miss a connection: nothing ends");
	xlate_stats(x, &st);
	ok(st.evicted == 0 && st.suspects == 0, "... nothing evicted, nothing suspect");
	pass_whole(x, true, false, NULL, 0, 7);
	is_str(seq(), "", "a failed walk that met nothing ends nothing");
	pass(x, true, two, 2, 8);
	is_str(seq(), "", "the next whole walk meets both, unchanged: nothing written");
	xlate_free(x);

	/* the first walk failed: what the second meets existed before the collector */
	x = new_x(0, 0);
	pass_whole(x, true, false, NULL, 0, 1);
	pass(x, true, &a, 1, 2);
	is_str(seq(), "O", "after a failed first walk, the next opens what it meets");
	ok(out[0].u.open.flags & CONN_F_BEGUN_BEFORE, "... begun before the collector");
	nout = 0;
	pass(x, true, two, 2, 3);
	is_str(seq(), "O", "after a whole walk, a new connection");
	ok(!(out[0].u.open.flags & CONN_F_BEGUN_BEFORE), "... is not begun before");
	xlate_free(x);
}

/* segs_in, segs_out (and total_retrans) are 32-bit in struct tcp_sock. */
static void test_tcp_counters_wrap(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x4400, 40033, 80, 1, 10, 1);

	a.c.segs_in = 0xfffffff0u;
	a.c.segs_out = 7;
	pass(x, true, &a, 1, 1);
	nout = 0;
	a.c.segs_in = 0x10;
	a.c.segs_out = 9;
	a.c.bytes_in = 11;
	a.ts = 2;
	pass(x, false, &a, 1, 2);
	is_str(seq(), "S", "segments in past 2^32: one SAMPLE");
	ok(out[0].u.sample.c.pkts_in == 0x100000010ULL,
	   "... pkts_in unwrapped: 0x100000010 (%#llx)",
	   (unsigned long long)out[0].u.sample.c.pkts_in);
	ok(out[0].u.sample.c.pkts_out == 9, "... pkts_out as read");
	nout = 0;
	a.c.segs_in = 0x20;
	a.c.bytes_in = 12;
	a.ts = 3;
	{
		struct tt_event c = a;

		c.type = TT_EV_CLOSE;
		c.state = 7;
		c.old_state = 1;
		xlate_event(x, &c);
	}
	is_str(seq(), "STC", "its close");
	ok(out[0].u.sample.c.pkts_in == 0x100000020ULL &&
		   out[2].u.close.c.pkts_in == 0x100000020ULL,
	   "... carries the unwrapped count (%#llx)", (unsigned long long)out[2].u.close.c.pkts_in);
	xlate_free(x);

	/* a stale read (a polled entry older than the walk's record) */
	x = new_x(0, 0);
	a = tcp(TT_IT_TCP, 0x4500, 40043, 80, 1, 100, 1);
	a.c.segs_in = 50;
	pass(x, true, &a, 1, 1);
	nout = 0;
	{
		struct tt_polled p = { .e = a };

		p.e.type = TT_POLLED;
		p.e.c.bytes_in = 90;
		p.e.c.segs_in = 45;
		xlate_event(x, &p.e);
	}
	is_str(seq(), "", "a report behind what was written changes nothing");
	a.c.bytes_in = 101;
	a.c.segs_in = 51;
	pass(x, false, &a, 1, 2);
	is_str(seq(), "S", "... and the next newer one is a SAMPLE");
	ok(out[0].u.sample.c.pkts_in == 51 && out[0].u.sample.c.bytes_in == 101,
	   "... with the counters as read");
	xlate_free(x);
}

static struct tt_polled polled(uint64_t sock, uint16_t lport, uint8_t state, uint64_t in,
			       uint64_t ts, uint8_t flags, uint32_t netns)
{
	struct tt_polled p = { .e = tcp(TT_POLLED, sock, lport, 443, state, in, ts) };

	p.e.flags = flags;
	p.e.netns = netns;
	p.changed = ts;
	return p;
}

/* The polled map: active connections of ours and other namespaces' ones, read each period. */
static void test_tcp_polled(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_polled old = polled(0x7000, 41000, 1, 5, 1, 0, NS);
	struct tt_polled fresh = polled(0x8000, 41001, 2, 0, 1, TT_F_NEW, NS);
	struct tt_polled theirs = polled(0x9000, 41002, 1, 9, 1, TT_F_NEW, NS + 1);
	struct tt_event w = tcp(TT_IT_TCP, 0x7000, 41000, 443, 1, 5, 2);
	struct xlate_stats st;

	xlate_event(x, &old.e);
	xlate_event(x, &fresh.e);
	xlate_event(x, &theirs.e);
	is_str(seq(), "OOO", "before the first walk, each polled connection is opened once");
	ok(out[0].u.open.flags & CONN_F_BEGUN_BEFORE, "... one active before us begun before");
	ok(!(out[1].u.open.flags & CONN_F_BEGUN_BEFORE), "... one polled from its connect not");
	ok(!(out[2].u.open.flags & CONN_F_BEGUN_BEFORE), "... another namespace's new one not");
	nout = 0;
	/* the walk meets ours: no second opening; the other namespace's is not ended */
	pass(x, true, &w, 1, 2);
	pass(x, true, &w, 1, 3);
	is_str(seq(), "C", "two full walks end the polled one of ours they do not meet (0x8000)");
	ok(out[0].u.close.flow == 2, "... and only that one");
	nout = 0;
	old.e.c.bytes_in = 50;
	old.e.state = 8;
	old.e.ts = 3;
	owned(&old.e, 77);
	xlate_event(x, &old.e);
	is_str(seq(), "WTS", "between walks: owner, state and counters from the map");
	ok(out[2].u.sample.c.bytes_in == 50, "... the counters read this period");
	nout = 0;
	xlate_event(x, &old.e);
	is_str(seq(), "", "the same entry again writes nothing");
	theirs.e.c.bytes_in = 99;
	xlate_event(x, &theirs.e);
	is_str(seq(), "S", "another namespace's connection: its new counters");
	xlate_stats(x, &st);
	ok(st.evicted == 1, "one evicted");
	xlate_free(x);
}

static void test_filters(void)
{
	struct xlate *x = new_x(42, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x5000, 40004, 80, 1, 10, 1);
	struct tt_event b = tcp(TT_IT_TCP, 0x6000, 40005, 80, 1, 10, 1);

	owned(&b, 43);
	{
		struct tt_event two[2] = { a, b };

		pass(x, true, two, 2, 1);
	}
	is_str(seq(), "", "--pid: an ownerless connection waits, another process's is hidden");
	owned(&a, 42);
	a.c.bytes_in = 11;
	pass(x, false, &a, 1, 2);
	is_str(seq(), "O", "... and is opened once its owner is the one asked for");
	ok(out[0].u.open.pid == 42 && out[0].u.open.c.bytes_in == 11, "... with owner, counters");
	xlate_free(x);
	x = new_x(0, 443);
	pass(x, true, &a, 1, 1);
	is_str(seq(), "", "--port: a connection on other ports is not written");
	b.rport = 443;
	pass(x, false, &b, 1, 2);
	is_str(seq(), "O", "... one with the port at either end is");
	xlate_free(x);
}

static void test_udp(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_udp_key k = { .sock = 0x7000, .lport = 5353, .rport = 53, .family = 2 };
	struct tt_udp_val v = { .bytes_out = 100, .pkts_out = 1, .last_ts = 1 * SEC, .netns = NS };
	struct tt_event s = { .type = TT_IT_UDP,
			      .proto = 17,
			      .family = 2,
			      .sock = 0x7000,
			      .lport = 5353,
			      .netns = NS };

	v.owner.pid = 9;
	xlate_udp_pass_begin(x);
	xlate_event(x, &s);
	xlate_udp_pass_end(x, SEC, true);
	xlate_udp_flow(x, &k, &v, SEC);
	is_str(seq(), "OS", "a new UDP flow: OPEN with zero counters, then its datagrams");
	ok(out[0].u.open.pid == 9 && out[0].u.open.id.rport == 53, "... owner and peer");
	nout = 0;
	v.bytes_out = 200;
	v.pkts_out = 2;
	v.last_ts = 2 * SEC;
	xlate_udp_flow(x, &k, &v, 2 * SEC);
	is_str(seq(), "S", "more datagrams: SAMPLE");
	xlate_udp_expire(x, 20 * SEC);
	is_str(seq(), "", "idle less than the timeout: still there");
	final_key = k;
	final_val = v;
	final_val.bytes_out = 300;
	final_val.pkts_out = 3;
	xlate_udp_expire(x, 33 * SEC);
	is_str(seq(), "SC",
	       "idle for the timeout: the final count, read as it is removed, then CLOSE");
	ok(finals == 1, "... read and removed from the kernel's table once");
	/* a socket that goes away ends its flows at once */
	v.last_ts = 40 * SEC;
	xlate_udp_flow(x, &k, &v, 40 * SEC);
	nout = 0;
	xlate_udp_pass_begin(x);
	xlate_udp_pass_end(x, 41 * SEC, false);
	is_str(seq(), "", "an iterator pass that failed (not whole) ends no flow");
	ok(forgotten == 0, "... and forgets no owner");
	xlate_udp_pass_begin(x);
	xlate_udp_pass_end(x, 41 * SEC, true);
	is_str(seq(), "SC", "its socket gone from a whole pass: the flow ends, final count");
	ok(forgotten == 1, "... and the socket's owner entry is forgotten");
	xlate_free(x);
}

static void test_udp_begun(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event s = { .type = TT_IT_UDP,
			      .proto = 17,
			      .family = 2,
			      .sock = 0x8000,
			      .lport = 5000,
			      .rport = 6000,
			      .netns = NS,
			      .ts = 5 };

	xlate_udp_pass_begin(x);
	xlate_event(x, &s);
	xlate_udp_pass_end(x, 6, true);
	is_str(seq(), "O", "a connected UDP socket that existed at start has its flow");
	ok(out[0].u.open.flags & CONN_F_BEGUN_BEFORE, "... flagged begun before");
	xlate_free(x);
}

static int ifname_calls, cgroup_calls;

static int fake_ifname(void *ctx, uint32_t ifindex, char name[IFNAME_LEN])
{
	(void)ctx;
	ifname_calls++;
	snprintf(name, IFNAME_LEN, "eth%u", ifindex);
	return 0;
}

static int fake_cgroup(void *ctx, uint64_t id, char *path, size_t size)
{
	(void)ctx;
	cgroup_calls++;
	snprintf(path, size, "/system.slice/unit%llu.service", (unsigned long long)id);
	return 0;
}

/* IFNAME and CGROUP records once each, and the system asked once each (if_indextoname costs a
 * socket and an ioctl: it was asked for every connection, 10,000 times a second under churn) */
static void test_names_once(void)
{
	struct xlate_config c = { .own_netns = NS, .want_tcp = true, .want_udp = true };
	struct xlate_ops o = { .put = put,
			       .udp_final = udp_final,
			       .forget_owner = forget,
			       .ifname = fake_ifname,
			       .cgroup_path = fake_cgroup };
	struct xlate *x;
	struct tt_event e;
	int ifs = 0, cgs = 0;

	nout = ifname_calls = cgroup_calls = 0;
	x = xlate_new(&c, &o);
	pass(x, true, NULL, 0, 1);
	for (uint64_t i = 0; i < 100; i++) {
		e = tcp(TT_EV_CLOSE, 0x5000 + i * 64, 41000 + i, 80, 7, 10, 2 + i);
		e.old_state = 1;
		e.ifindex = 2 + i % 2;
		owned(&e, 7);
		e.owner.cgroup = 11 + i % 3;
		xlate_event(x, &e);
	}
	for (int i = 0; i < nout; i++) {
		ifs += out[i].type == REC_IFNAME;
		cgs += out[i].type == REC_CGROUP;
	}
	ok(ifs == 2 && cgs == 3,
	   "100 connections on 2 interfaces in 3 cgroups: 2 IFNAME, 3 CGROUP");
	ok(ifname_calls == 2 && cgroup_calls == 3, "... the system asked once for each (%d, %d)",
	   ifname_calls, cgroup_calls);
	nout = 0;
	xlate_free(x);
}

/* A walk that spans periods: what it must meet is what existed when it began, and a polled
 * read since counts as met (the walk may have passed a socket's bucket before it was there,
 * or, before 6.16, skipped it when the bucket changed). */
static void test_walk_spans_periods(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0xa000, 42000, 80, 1, 10, 1);
	struct tt_event b = tcp(TT_IT_TCP, 0xb000, 42001, 80, 1, 10, 1);
	struct tt_event e = tcp(TT_IT_TCP, 0xe000, 42004, 80, 1, 10, 1);
	struct tt_event c = tcp(TT_IT_TCP, 0xc000, 42002, 80, 1, 10, 5);
	struct tt_polled d = polled(0xd000, 42003, 1, 0, 6, TT_F_NEW, NS);
	struct xlate_stats st;

	{
		struct tt_event three[3] = { a, b, e };

		pass(x, true, three, 3, 1);
	}
	nout = 0;
	/* e polled in the period before the walk begins: that does not count for it */
	xlate_tcp_period(x);
	e.type = TT_POLLED;
	e.ts = 2;
	xlate_event(x, &e);
	xlate_tcp_walk_begin(x, true);
	/* first period of the walk: b polled */
	b.type = TT_POLLED;
	b.ts = 3;
	xlate_event(x, &b);
	/* second: the walk's records meet c (new), d is polled from its connect */
	xlate_tcp_period(x);
	xlate_event(x, &c);
	xlate_event(x, &d.e);
	/* third: the walk ends, whole */
	xlate_tcp_period(x);
	xlate_tcp_walk_end(x, 7, true);
	is_str(seq(), "OO", "a walk over three periods: the two new connections opened");
	xlate_stats(x, &st);
	ok(st.suspects == 2 && st.evicted == 0,
	   "... a (never met) and e (polled only before it began) missed once (%llu), none ended",
	   (unsigned long long)st.suspects);
	/* the next walk meets nothing: what it missed twice ends, the others are suspects */
	pass(x, true, NULL, 0, 8);
	is_str(seq(), "CC", "the next whole walk that misses them ends a and e");
	xlate_stats(x, &st);
	ok(st.evicted == 2 && st.suspects == 3,
	   "... evicted 2 (%llu); b, c and d, which existed when it began, suspects (%llu)",
	   (unsigned long long)st.evicted, (unsigned long long)st.suspects);
	/* a walk cut short across periods ends nothing */
	xlate_tcp_period(x);
	xlate_tcp_walk_begin(x, true);
	xlate_tcp_period(x);
	xlate_tcp_walk_end(x, 9, false);
	is_str(seq(), "", "a walk of two periods cut short ends nothing");
	xlate_free(x);
}

/* Churn: the kernel gives a closed socket's memory to the next socket at once, so thousands of
 * connections close at one address within two periods; one tombstone is kept for it (each
 * lookup walked all of them: the collector took a core at 10,000 connections a second). */
static void test_tombs_one_per_address(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event c;
	struct xlate_stats st;

	pass(x, true, NULL, 0, 1);
	for (int i = 0; i < 1000; i++) {
		c = tcp(TT_EV_CLOSE, 0xf000, 30000 + i, 80, 7, 10, 2 + i);
		c.old_state = 1;
		xlate_event(x, &c);
	}
	xlate_stats(x, &st);
	ok(st.tombs == 1, "1000 closes at one address in a period: one tombstone (%llu)",
	   (unsigned long long)st.tombs);
	nout = 0;
	c.type = TT_IT_TCP;
	c.state = 1;
	c.ts = 1500;
	xlate_event(x, &c);
	is_str(seq(), "", "... the last one's late report is no opening");
	xlate_tcp_period(x);
	xlate_tcp_period(x);
	xlate_stats(x, &st);
	ok(st.tombs == 0, "two periods later, none (%llu)", (unsigned long long)st.tombs);
	xlate_free(x);
}

/* What a connection keeps of its owner (the pid and a hash of its cgroup and name) still
 * tells every change; and of its peer (an IPv6 address hashed) another socket at its address. */
static void test_compact_owner_peer(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x9100, 43000, 443, 1, 10, 1);
	struct tt_event v6 = tcp(TT_IT_TCP, 0x9200, 43001, 443, 1, 10, 1);

	owned(&a, 50);
	v6.family = 10;
	memset(v6.raddr, 0, 16);
	v6.raddr[15] = 1;
	{
		struct tt_event two[2] = { a, v6 };

		pass(x, true, two, 2, 1);
	}
	nout = 0;
	a.ts = 2;
	strcpy(a.owner.comm, "wget");
	xlate_event(x, &a);
	is_str(seq(), "W", "the same pid under another name: OWNER");
	a.owner.cgroup = 77;
	xlate_event(x, &a);
	is_str(seq(), "W", "... in another cgroup: OWNER");
	xlate_event(x, &a);
	is_str(seq(), "", "... the same owner again: nothing");
	v6.raddr[15] = 2; /* another peer, the same ports, at the socket's address */
	v6.ts = 3;
	xlate_event(x, &v6);
	is_str(seq(), "CO", "another IPv6 peer at a known address: the old one ended, a new one");
	v6.raddr[15] = 2;
	v6.c.bytes_in = 11;
	xlate_event(x, &v6);
	is_str(seq(), "S", "... whose next report is its own");
	xlate_free(x);

	/* --pid: a connection of another process, whose owner later turns out to be the one
	 * asked for, is opened from that report, with it */
	x = new_x(60, 0);
	a = tcp(TT_IT_TCP, 0x9300, 43002, 443, 1, 10, 1);
	owned(&a, 59);
	pass(x, true, &a, 1, 1);
	is_str(seq(), "", "--pid 60: another process's connection is hidden");
	a.type = TT_POLLED;
	a.owner.pid = 60;
	a.lport = 43002;
	a.c.bytes_in = 12;
	a.ts = 2;
	xlate_event(x, &a);
	is_str(seq(), "O", "... opened when its owner is pid 60");
	ok(out[0].u.open.pid == 60 && !strcmp(out[0].u.open.comm, "curl") &&
		   out[0].u.open.id.lport == 43002 && out[0].u.open.c.bytes_in == 12,
	   "... with that owner, its identity and its newest counters");
	nout = 0;
	xlate_free(x);
}

/* A TCP event with figures: clocks in jiffies, and the rest. */
static void with_figs(struct tt_event *e, uint32_t busy, uint32_t rwnd, uint32_t sndbuf)
{
	e->flags |= TT_F_FIGS;
	e->f.busy = busy;
	e->f.rwnd = rwnd;
	e->f.sndbuf = sndbuf;
	e->f.cwnd = 10;
	e->f.ssthresh = 0x7fffffff; /* TCP_INFINITE_SSTHRESH */
	e->f.reordering = 3;
	e->f.in_flight = 4;
	e->f.unsent = 1000;
	e->f.min_rtt_us = 100000;
	e->f.rttvar_us = 500;
	e->f.rate_delivered = 10;
	e->f.rate_interval_us = 100000;
	e->f.mss = 1448;
	e->f.lost = 2;
	e->f.bytes_retrans = 0x100000005ULL;
}

/* The figures of a TCP connection: ride with the counters, their clocks unwrapped and in
 * milliseconds as tcp_get_info() reckons them. */
static void test_tcp_figs(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x7000, 40100, 80, 1, 100, 1);
	const struct tcp_figs *f;

	with_figs(&a, 0xfffffff0u, 0xfffffff0u, 7);
	pass(x, true, &a, 1, 1);
	is_str(seq(), "O", "a connection with figures: OPEN");
	f = &out[0].u.open.figs;
	ok(out[0].u.open.has_figs, "... carries them");
	ok(f->busy_ms == (uint32_t)(0xfffffff0ULL * 4) && f->sndbuf_ms == 28,
	   "... clocks in ms at HZ 250: 4 ms a jiffy (busy %u, sndbuf %u)", f->busy_ms,
	   f->sndbuf_ms);
	ok(f->ssthresh == TCP_NO_SSTHRESH && f->cwnd == 10 && f->reordering == 3 &&
		   f->in_flight == 4 && f->unsent == 1000 && f->lost == 2 &&
		   f->min_rtt_us == 100000 && f->rttvar_us == 500,
	   "... an infinite ssthresh as none, the others as read");
	ok(f->retrans_bytes == 5, "... retransmitted bytes modulo 2^32");
	ok(f->delivery_rate == 144800.0f,
	   "... the delivery rate as tcp_compute_delivery_rate(): 10 x 1448 in 0.1 s = %.0f",
	   (double)f->delivery_rate);
	nout = 0;

	/* a stalled sender: counters as before, its clock runs (past 2^32 jiffies) */
	a.f.busy = 0x10;
	a.f.rwnd = 0x10;
	a.ts = 2;
	pass(x, false, &a, 1, 2);
	is_str(seq(), "S", "counters still, a clock moved: a SAMPLE");
	f = &out[0].u.sample.figs;
	ok(out[0].u.sample.has_figs && f->busy_ms == (uint32_t)(0x100000010ULL * 4) &&
		   f->rwnd_ms == (uint32_t)(0x100000010ULL * 4),
	   "... the clocks unwrapped past 2^32 jiffies (busy %u ms)", f->busy_ms);
	ok((uint32_t)(f->rwnd_ms - (uint32_t)(0xfffffff0ULL * 4)) == 32 * 4,
	   "... 32 jiffies more: 128 ms, modulo 2^32");
	nout = 0;
	pass(x, false, &a, 1, 3);
	is_str(seq(), "", "nothing moved: nothing written");
	{
		struct tt_polled p = { .e = a };

		p.e.type = TT_POLLED;
		p.e.f.busy = 0x8; /* behind what was read: a stale entry */
		p.e.f.cwnd = 99;
		xlate_event(x, &p.e);
		is_str(seq(), "", "figures behind the last read change nothing");
	}
	a.f.cwnd = 20;
	a.ts = 4;
	pass(x, false, &a, 1, 4);
	is_str(seq(), "S", "a new congestion window alone: a SAMPLE");
	ok(out[0].u.sample.figs.cwnd == 20, "... with it");
	nout = 0;
	{
		struct tt_event c = a;

		c.type = TT_EV_CLOSE;
		c.state = 7;
		c.old_state = 1;
		c.f.busy = 0x20;
		xlate_event(x, &c);
		is_str(seq(), "STC", "the close: SAMPLE, STATE, CLOSE");
		ok(out[2].u.close.has_figs &&
			   out[2].u.close.figs.busy_ms == (uint32_t)(0x100000020ULL * 4),
		   "... the CLOSE carries the last figures");
	}
	xlate_free(x);

	x = new_x_figs(0, 0, true, 300);
	a = tcp(TT_IT_TCP, 0x7100, 40101, 80, 1, 100, 1);
	with_figs(&a, 1000, 3, 0);
	pass(x, true, &a, 1, 1);
	ok(out[0].u.open.figs.busy_ms == 3333 && out[0].u.open.figs.rwnd_ms == 9,
	   "HZ 300: 3333 us a jiffy, as the kernel's USEC_PER_SEC / HZ (%u ms)",
	   out[0].u.open.figs.busy_ms);
	nout = 0;
	a = tcp(TT_IT_TCP, 0x7110, 40111, 80, 1, 100, 2);
	with_figs(&a, 0xfffffff0u, 0, 0);
	pass(x, false, &a, 1, 2);
	nout = 0;
	a.f.busy = 0x10;
	a.ts = 3;
	pass(x, false, &a, 1, 3);
	ok(nout == 1 && out[0].u.sample.figs.busy_ms == (uint32_t)(0x100000010ULL * 3333 / 1000),
	   "... a clock past 2^32 jiffies, where 2^32 jiffies are no whole number of 2^32 ms: "
	   "unwrapped first (%u)",
	   out[0].u.sample.figs.busy_ms);
	xlate_free(x);

	x = new_x_figs(0, 0, true, 0);
	a = tcp(TT_IT_TCP, 0x7200, 40102, 80, 1, 100, 1);
	with_figs(&a, 1000, 3, 0);
	pass(x, true, &a, 1, 1);
	ok(out[0].u.open.has_figs && !out[0].u.open.figs.busy_ms && out[0].u.open.figs.cwnd == 10,
	   "HZ unknown: the clocks 0 (the header says tcp-limits), the rest as read");
	xlate_free(x);

	x = new_x_figs(0, 0, false, 250);
	a = tcp(TT_IT_TCP, 0x7300, 40103, 80, 1, 100, 1);
	with_figs(&a, 1000, 3, 0);
	pass(x, true, &a, 1, 1);
	ok(!out[0].u.open.has_figs, "figures off (tcp-figures): none written");
	xlate_free(x);

	x = new_x(0, 0);
	a = tcp(TT_POLLED, 0x7400, 40104, 80, 1, 100, 1);
	pass(x, true, &a, 1, 1);
	ok(!out[0].u.open.has_figs, "a polled entry not refreshed yet (no TT_F_FIGS): none");
	nout = 0;
	with_figs(&a, 5, 0, 0);
	a.ts = 2;
	pass(x, false, &a, 1, 2);
	is_str(seq(), "S", "... refreshed: a SAMPLE with them");
	ok(out[0].u.sample.has_figs && out[0].u.sample.figs.busy_ms == 20, "... 5 jiffies: 20 ms");
	xlate_free(x);
}

/* A connection keeps only the clocks of its figures and a hash of those written: figures read
 * while it waits (hidden) go out with the OPEN that ends the wait, and only a change after them
 * writes a SAMPLE; a connection first met at its close carries the close's figures. */
static void test_tcp_figs_compact(void)
{
	struct xlate *x = new_x(60, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x7500, 40105, 80, 1, 100, 1);
	struct tt_event c;

	owned(&a, 59);
	with_figs(&a, 100, 0, 0);
	pass(x, true, &a, 1, 1);
	is_str(seq(), "", "--pid 60: another process's connection with figures is hidden");
	a.type = TT_POLLED;
	a.owner.pid = 60;
	a.f.busy = 150;
	a.f.cwnd = 30;
	a.ts = 3;
	xlate_event(x, &a);
	is_str(seq(), "O", "... the next read with its owner opens it");
	ok(out[0].u.open.has_figs && out[0].u.open.figs.busy_ms == 600 &&
		   out[0].u.open.figs.cwnd == 30,
	   "... with that read's figures (busy %u ms)", out[0].u.open.figs.busy_ms);
	nout = 0;
	a.ts = 4;
	xlate_event(x, &a);
	is_str(seq(), "", "... the same figures again: nothing");
	a.f.unsent = 5;
	a.ts = 5;
	xlate_event(x, &a);
	is_str(seq(), "S", "... unsent bytes alone moved: a SAMPLE");
	ok(out[0].u.sample.has_figs && out[0].u.sample.figs.unsent == 5, "... with them");
	xlate_free(x);

	x = new_x(0, 0);
	pass(x, true, NULL, 0, 1);
	c = tcp(TT_EV_CLOSE, 0x7600, 40106, 80, 7, 100, 2);
	c.old_state = 1;
	with_figs(&c, 40, 10, 0);
	xlate_event(x, &c);
	is_str(seq(), "OTC", "a connection first met at its close: OPEN, STATE, CLOSE");
	ok(out[0].u.open.has_figs && out[2].u.close.has_figs &&
		   out[2].u.close.figs.busy_ms == 160 && out[2].u.close.figs.rwnd_ms == 40,
	   "... the OPEN and the CLOSE with the close's figures");
	xlate_free(x);
}

/* Counters past 2^32 (4 GiB moved) keep their high halves beside the connection: every record
 * carries them exactly, the connection first met at its close too, and an address that a
 * connection with them leaves is taken by the next without them. */
static void test_tcp_wide(void)
{
	struct xlate *x = new_x(0, 0);
	struct tt_event a = tcp(TT_IT_TCP, 0x8800, 40200, 80, 1, 5000000000ULL, 1);
	struct tt_event b = tcp(TT_IT_TCP, 0x8900, 40201, 80, 1, 7, 1);
	struct tt_event c;
	struct tt_event two[2];

	a.c.bytes_out = 0x123456789aULL;
	two[0] = a;
	two[1] = b;
	pass(x, true, two, 2, 1);
	is_str(seq(), "OO", "two connections, one past 4 GiB");
	ok(out[0].u.open.c.bytes_in == 5000000000ULL &&
		   out[0].u.open.c.bytes_out == 0x123456789aULL && out[1].u.open.c.bytes_in == 7,
	   "... each OPEN with its counters exactly");
	nout = 0;
	a.c.bytes_in += 1;
	b.c.bytes_in = 0x100000000ULL;
	two[0] = a;
	two[1] = b;
	pass(x, false, two, 2, 2);
	is_str(seq(), "SS", "both move");
	ok(out[0].u.sample.c.bytes_in == 5000000001ULL &&
		   out[0].u.sample.c.bytes_out == 0x123456789aULL &&
		   out[1].u.sample.c.bytes_in == 0x100000000ULL && out[1].u.sample.c.bytes_out == 7,
	   "... the SAMPLEs exact, the second now past 4 GiB too");
	nout = 0;
	b.c.bytes_in = 0x0ffffffffULL;
	pass(x, false, &b, 1, 3);
	is_str(seq(), "", "a stale read under 2^32 of one past it changes nothing");
	c = a;
	c.type = TT_EV_CLOSE;
	c.state = 7;
	c.old_state = 1;
	c.c.bytes_in = 6000000000ULL;
	c.ts = 4;
	xlate_event(x, &c);
	is_str(seq(), "STC", "its close");
	ok(out[2].u.close.c.bytes_in == 6000000000ULL &&
		   out[2].u.close.flow == out[0].u.sample.flow,
	   "... the CLOSE exact, of its flow");
	nout = 0;
	/* the address again, a new socket with small counters */
	a = tcp(TT_IT_TCP, 0x8800, 40300, 80, 1, 3, 5);
	xlate_tcp_period(x);
	xlate_tcp_period(x);
	xlate_tcp_period(x);
	pass(x, false, &a, 1, 5);
	is_str(seq(), "O", "a new socket at its address");
	ok(out[0].u.open.c.bytes_in == 3 && out[0].u.open.c.bytes_out == 3,
	   "... with its own counters, not the high halves of the one before (%llu)",
	   (unsigned long long)out[0].u.open.c.bytes_in);
	nout = 0;
	c = tcp(TT_EV_CLOSE, 0x9900, 40400, 80, 7, 0x300000005ULL, 6);
	c.old_state = 1;
	c.c.segs_in = 9;
	xlate_event(x, &c);
	is_str(seq(), "OTC", "one first met at its close, past 4 GiB");
	ok(out[0].u.open.c.bytes_in == 0x300000005ULL &&
		   out[2].u.close.c.bytes_in == 0x300000005ULL && out[2].u.close.c.pkts_in == 9,
	   "... OPEN and CLOSE exact");
	xlate_free(x);
}

/* The pool of connections: more than a block of entries and a table that grows, half of them
 * ended by two walks that missed them, their entries taken again by new ones. */
static void test_tcp_pool(void)
{
	enum {
		N = 10000
	};
	static struct tt_event ev[N];
	struct xlate *x = new_x(0, 0);
	struct xlate_stats st;
	bool exact = true;

	for (int i = 0; i < N; i++)
		ev[i] = tcp(TT_IT_TCP, 0x100000 + 0x40 * (uint64_t)i, (uint16_t)(1024 + i), 80, 1,
			    (uint64_t)i, 1);
	memset(nput, 0, sizeof(nput));
	pass(x, true, ev, N, 1);
	xlate_stats(x, &st);
	ok(nput[REC_CONN_OPEN & 31] == N && st.conns == N, "%d connections opened (%lu), tracked",
	   N, nput[REC_CONN_OPEN & 31]);
	/* every other one changed: a SAMPLE each, with its counters */
	for (int i = 0; i < N; i += 2)
		ev[i].c.bytes_in += 1000000;
	memset(nput, 0, sizeof(nput));
	pass(x, false, ev, N, 2);
	ok(nput[REC_CONN_SAMPLE & 31] == N / 2, "... half of them moved: %lu SAMPLEs",
	   nput[REC_CONN_SAMPLE & 31]);
	/* the odd ones go without their close: two whole walks miss them */
	for (int i = 0; i < N / 2; i++)
		ev[i] = ev[2 * i];
	pass(x, true, ev, N / 2, 3);
	xlate_stats(x, &st);
	ok(st.suspects == N / 2 && st.evicted == 0, "... a walk misses half: %llu suspects",
	   (unsigned long long)st.suspects);
	memset(nput, 0, sizeof(nput));
	nout = 0;
	pass(x, true, ev, N / 2, 4);
	xlate_stats(x, &st);
	ok(st.evicted == N / 2 && st.conns == N / 2 && nput[REC_CONN_CLOSE & 31] == N / 2,
	   "... the next ends them: %llu evicted, %llu left", (unsigned long long)st.evicted,
	   (unsigned long long)st.conns);
	for (int i = 0; i < nout; i++)
		exact &= out[i].type == REC_CONN_CLOSE && out[i].u.close.flow % 2 == 0 &&
			 out[i].u.close.c.bytes_in == out[i].u.close.flow - 1;
	ok(exact, "... each CLOSE with its flow and counters");
	/* new ones take the freed entries; flows go on counting */
	for (int i = 0; i < N / 2; i++)
		ev[N / 2 + i] = tcp(TT_IT_TCP, 0x900000 + 0x40 * (uint64_t)i, 7, 443, 1, 5, 5);
	xlate_tcp_period(x);
	xlate_tcp_period(x);
	xlate_tcp_period(x);
	memset(nput, 0, sizeof(nput));
	nout = 0;
	pass(x, true, ev, N, 5);
	xlate_stats(x, &st);
	ok(nput[REC_CONN_OPEN & 31] == N / 2 && st.conns == N && out[0].u.open.id.flow == N + 1,
	   "%d new connections, flows from %d on (%llu)", N / 2, N + 1,
	   (unsigned long long)out[0].u.open.id.flow);
	memset(nput, 0, sizeof(nput));
	pass(x, true, ev, N, 6);
	ok(nput[REC_CONN_OPEN & 31] + nput[REC_CONN_SAMPLE & 31] + nput[REC_CONN_CLOSE & 31] == 0,
	   "... a walk that meets them all unchanged writes nothing");
	xlate_free(x);
}

int main(void)
{
	test_tcp_life();
	test_tcp_short_and_reuse();
	test_tcp_lost_close();
	test_tcp_skipped_once();
	test_tcp_pass_not_whole();
	test_tcp_counters_wrap();
	test_tcp_polled();
	test_walk_spans_periods();
	test_tombs_one_per_address();
	test_compact_owner_peer();
	test_filters();
	test_udp();
	test_udp_begun();
	test_names_once();
	test_tcp_figs();
	test_tcp_figs_compact();
	test_tcp_wide();
	test_tcp_pool();
	return done_testing();
}
