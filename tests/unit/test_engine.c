// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of tcptop-collect's engine (tcptop-collect/engine.c) against a fake kernel: this
 * file defines the libbpf calls the engine makes (engine.h lists them) and links no libbpf,
 * so that every read of the kernel can be made to fail, be cut short or succeed at will,
 * with no hook in the collector. The engine's stream is read back and its records checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "engine.h"
#include "tap.h"

#define NS  4026531840u
#define SEC 1000000000ULL

/* descriptors of the fake kernel */
enum {
	IT_TCP = 101,
	IT_UDP,
	IT_POLLED,
	IT_OWNERS,
	M_POLLED = 201,
	M_POLLED_OUT,
	M_UDP,
	M_OWNERS,
	M_LOSS,
	P_RF = 301
};

/* How an iterator run or a map read goes. */
enum how {
	OK,
	FAIL_CREATE,
	FAIL_READ,
	AGAIN,
	FAIL_BATCH,
	SLOW /* iter/tcp's records come a batch at a time, 5 ms apart (a child writes them) */
};

static struct {
	enum how it[4];		/* by IT_* - IT_TCP */
	struct tt_event tcp[8]; /* what iter/tcp reports when OK */
	int ntcp;
	struct tt_event udp[8]; /* what iter/udp reports */
	int nudp;
	int created[4]; /* iterator runs made */
	enum how polled, udp_flows, loss;
	struct tt_polled pol[4];
	int npol;
	struct tt_udp_key ukey[4];
	struct tt_udp_val uval[4];
	int nflows;
	int rf_runs, rf_retval, rf_fail;
	uint64_t kloss[TT_LOSS_N];
	int again_w; /* the write end of an empty pipe, kept open */
	/* the programs' globals */
	uint32_t full_pass, unmarkable, walk_owners, npolled, polled_read, udp_nflows;
	uint64_t owners_added, owners_removed;
	struct tt_udp_touch touch[64];
	int batches; /* bpf_map_lookup_batch calls */
	int slow_n;  /* SLOW: records (sockets 0x100000 + 64 i), in batches of 200 */
	int slow_us; /* ... this many microseconds apart */
	pid_t slow_pid;
} fk;

static struct engine *fake_engine;

static struct tt_event tcp_rec(uint64_t sock, uint16_t lport, uint64_t ts)
{
	struct tt_event e = { .type = TT_IT_TCP, .proto = 6, .family = 2, .state = 1 };

	e.sock = sock;
	e.lport = lport;
	e.rport = 80;
	e.netns = NS;
	e.ts = ts;
	e.c.bytes_in = 100;
	return e;
}

/* ---- the fake libbpf ---- */

int libbpf_num_possible_cpus(void)
{
	return 1;
}

static int records_fd(const struct tt_event *e, int n)
{
	int fd = memfd_create("iter", MFD_CLOEXEC);

	if (fd < 0 || (n && write(fd, e, n * sizeof(*e)) != (ssize_t)(n * sizeof(*e))))
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

int bpf_iter_create(int link_fd)
{
	int i = link_fd - IT_TCP, p[2];

	if (i < 0 || i > 3)
		abort();
	fk.created[i]++;
	switch (fk.it[i]) {
	case FAIL_CREATE:
		errno = EPERM;
		return -1;
	case FAIL_READ:
		return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* read(2): EISDIR */
	case SLOW:
		if (fk.slow_pid > 0)
			waitpid(fk.slow_pid, NULL, 0);
		if (pipe2(p, O_CLOEXEC))
			abort();
		fk.slow_pid = fork();
		if (fk.slow_pid < 0)
			abort();
		if (!fk.slow_pid) {
			struct tt_event b[200];

			close(p[0]);
			for (int n = 0; n < fk.slow_n; n += 200) {
				for (int j = 0; j < 200; j++)
					b[j] = tcp_rec(0x100000 + 64 * (uint64_t)(n + j),
						       1000 + n + j, 1 + n + j);
				if (write(p[1], b, sizeof(b)) != sizeof(b))
					_exit(1);
				usleep(fk.slow_us);
			}
			_exit(0);
		}
		close(p[1]);
		return p[0];
	case AGAIN:
		/* an empty pipe whose writer stays: EAGAIN at every read, for ever */
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
			abort();
		if (fk.again_w > 0)
			close(fk.again_w);
		fk.again_w = p[1];
		return p[0];
	default:
		break;
	}
	if (link_fd == IT_TCP)
		return records_fd(fk.tcp, fk.ntcp);
	if (link_fd == IT_UDP)
		return records_fd(fk.udp, fk.nudp);
	return records_fd(NULL, 0);
}

int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts)
{
	if (prog_fd != P_RF)
		abort();
	fk.rf_runs++;
	if (fk.rf_fail) {
		errno = EPERM;
		return -1;
	}
	opts->retval = fk.rf_retval;
	fk.polled_read = fk.rf_retval == 1 ? 0 : fk.npol; /* what rf__polled copied out */
	return 0;
}

int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values,
			 __u32 *count, const struct bpf_map_batch_opts *opts)
{
	(void)opts;
	fk.batches++;
	if (fd == M_POLLED_OUT) {
		/* an array: from the key after in_batch, count entries at most */
		uint32_t at = in_batch ? *(uint32_t *)in_batch + 1 : 0, n = 0;

		if (fk.polled == FAIL_BATCH) {
			errno = EFAULT;
			return -1;
		}
		for (; n < *count && at < (uint32_t)fk.npol; n++, at++) {
			((uint32_t *)keys)[n] = at;
			((struct tt_event *)values)[n] = fk.pol[at].e;
		}
		*count = n;
		*(uint32_t *)out_batch = at - 1;
		if (at < (uint32_t)fk.npol)
			return 0;
		errno = ENOENT;
		return -1;
	}
	(void)in_batch;
	(void)out_batch;
	if (fd == M_POLLED) {
		if (fk.polled == FAIL_BATCH) {
			errno = EFAULT;
			return -1;
		}
		for (int i = 0; i < fk.npol; i++) {
			((uint64_t *)keys)[i] = fk.pol[i].e.sock;
			((struct tt_polled *)values)[i] = fk.pol[i];
		}
		*count = fk.npol;
	} else if (fd == M_UDP) {
		if (fk.udp_flows == FAIL_BATCH) {
			errno = EFAULT;
			return -1;
		}
		memcpy(keys, fk.ukey, fk.nflows * sizeof(fk.ukey[0]));
		memcpy(values, fk.uval, fk.nflows * sizeof(fk.uval[0]));
		*count = fk.nflows;
	} else {
		abort();
	}
	errno = ENOENT;
	return -1;
}

int bpf_map_get_next_key(int fd, const void *key, void *next_key)
{
	(void)fd;
	(void)key;
	(void)next_key;
	errno = ENOENT;
	return -1;
}

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	if (fd != M_LOSS)
		abort();
	if (fk.loss == FAIL_BATCH) {
		errno = EPERM;
		return -1;
	}
	*(uint64_t *)value = fk.kloss[*(const uint32_t *)key];
	return 0;
}

int bpf_map_lookup_and_delete_elem(int fd, const void *key, void *value)
{
	for (int i = 0; fd == M_UDP && i < fk.nflows; i++) {
		if (!memcmp(&fk.ukey[i], key, sizeof(fk.ukey[i]))) {
			memcpy(value, &fk.uval[i], sizeof(fk.uval[i]));
			fk.ukey[i] = fk.ukey[--fk.nflows];
			fk.uval[i] = fk.uval[fk.nflows];
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}

int bpf_map_delete_elem(int fd, const void *key)
{
	(void)fd;
	(void)key;
	return 0;
}

int ring_consume(struct ring *rb)
{
	(void)rb;
	return 0;
}

/* ---- the engine on it ---- */

static int out_fd, err_fd, saved_stderr;

static struct engine *start_every(bool active, enum poll_mech poll, uint64_t interval)
{
	static struct engine g;
	struct kern k = { .polled = M_POLLED,
			  .polled_out = M_POLLED_OUT,
			  .udp_flows = M_UDP,
			  .owners = M_OWNERS,
			  .loss = M_LOSS,
			  .it_tcp = IT_TCP,
			  .it_udp = IT_UDP,
			  .it_polled = IT_POLLED,
			  .it_owners = IT_OWNERS,
			  .rf_polled = P_RF,
			  .poll = poll,
			  .tcp = true,
			  .udp = true,
			  .active = active,
			  .accept = true,
			  .rb = (struct ring *)&fk };
	struct engine_config ec = { .interval_ns = interval,
				    .full_walk_ns = active ? 60 * SEC : 0 };
	struct xlate_config xc = {
		.own_netns = NS, .udp_timeout_ns = 3 * SEC / 10, .want_tcp = true, .want_udp = true
	};
	struct stream_header h = { .major = STREAM_MAJOR,
				   .minor = STREAM_MINOR,
				   .kind = STREAM_KIND_RAW };
	struct stream_writer *wr;

	k.full_pass = &fk.full_pass;
	k.unmarkable = &fk.unmarkable;
	k.walk_owners = &fk.walk_owners;
	k.npolled = &fk.npolled;
	k.polled_read = &fk.polled_read;
	k.udp_nflows = &fk.udp_nflows;
	k.owners_added = &fk.owners_added;
	k.owners_removed = &fk.owners_removed;
	k.udp_touch = (volatile uint64_t *)&fk.touch[0].ts;
	k.udp_touch_n = 64;
	k.udp_touch_stride = sizeof(fk.touch[0]) / sizeof(fk.touch[0].ts);
	out_fd = memfd_create("stream", MFD_CLOEXEC);
	err_fd = memfd_create("stderr", MFD_CLOEXEC);
	saved_stderr = dup(2);
	dup2(err_fd, 2);
	wr = stream_writer_new(out_fd);
	if (!wr || stream_write_header(wr, &h) || engine_init(&g, &ec, &k, wr, &xc, NULL))
		abort();
	fake_engine = &g;
	return &g;
}

static struct engine *start(bool active, enum poll_mech poll)
{
	return start_every(active, poll, SEC / 5);
}

struct result {
	int opens, closes, udp_closes, ticks;
	uint64_t closed_out; /* bytes_out of the closes, summed */
	uint64_t loss[32];
	int said; /* lines on stderr */
	char err[4096];
};

static void finish(struct engine *g, struct result *res)
{
	struct stream_writer *wr = g->wr;
	struct stream_reader *rd;
	struct rec r;
	ssize_t n;

	engine_free(g);
	stream_writer_free(wr);
	memset(res, 0, sizeof(*res));
	lseek(out_fd, 0, SEEK_SET);
	rd = stream_reader_new(out_fd, "engine");
	while (stream_read(rd, &r) == STREAM_OK) {
		switch (r.type) {
		case REC_CONN_OPEN:
			res->opens++;
			break;
		case REC_CONN_CLOSE:
			res->closes++;
			res->closed_out += r.u.close.c.bytes_out;
			break;
		case REC_TICK:
			res->ticks++;
			break;
		case REC_LOSS:
			for (uint32_t i = 0; i < r.u.loss.n; i++)
				if (r.u.loss.e[i].code < 32)
					res->loss[r.u.loss.e[i].code] = r.u.loss.e[i].value;
			break;
		}
	}
	stream_reader_free(rd);
	close(out_fd);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	lseek(err_fd, 0, SEEK_SET);
	n = read(err_fd, res->err, sizeof(res->err) - 1);
	res->err[n > 0 ? n : 0] = 0;
	for (char *p = res->err; (p = strchr(p, '\n')); p++)
		res->said++;
	close(err_fd);
	if (fk.again_w > 0)
		close(fk.again_w);
	if (fk.slow_pid > 0)
		waitpid(fk.slow_pid, NULL, 0);
	memset(&fk, 0, sizeof(fk));
}

/* Periods on the fake kernel: iter/tcp as how, after a first whole one. */
static void walk_fails(enum how how, const char *what)
{
	struct engine *g = start(false, POLL_NONE);
	struct result res;

	fk.tcp[0] = tcp_rec(0x1000, 40000, 1);
	fk.tcp[1] = tcp_rec(0x2000, 40001, 1);
	fk.ntcp = 2;
	ok(!engine_start(g), "%s: a first period, whole", what);
	fk.it[0] = how;
	for (int i = 0; i < 3; i++)
		ok(!engine_period(g), "%s: period %d goes on", what, i + 2);
	fk.it[0] = OK;
	ok(!engine_period(g), "%s: a whole period again", what);
	finish(g, &res);
	ok(res.opens == 2 && res.closes == 0,
	   "%s: three walks that failed end no connection (%d opened, %d closed)", what, res.opens,
	   res.closes);
	ok(res.loss[LOSS_WALK_FAILED] == 3 && res.loss[LOSS_FLOW_EVICTED] == 0,
	   "%s: each counted in walk_failed (%llu), none evicted", what,
	   (unsigned long long)res.loss[LOSS_WALK_FAILED]);
	ok(res.said == 1 && strstr(res.err, "the walk of the TCP connections (iter/tcp) failed"),
	   "%s: said once on stderr: %s", what, res.err);
}

static void test_walk_fails(void)
{
	walk_fails(FAIL_CREATE, "iterator not created");
	walk_fails(FAIL_READ, "iterator read error");
	walk_fails(AGAIN, "EAGAIN without end");
}

/* A walk cut short, with activation (the walk seldom): the next period walks, every
 * connection; and a connection one whole walk missed is ended only by the next, forced. */
static void test_walk_forced(void)
{
	struct engine *g = start(true, POLL_RUN);
	struct result res;
	int before;

	fk.tcp[0] = tcp_rec(0x1000, 40000, 1);
	fk.tcp[1] = tcp_rec(0x2000, 40001, 1);
	fk.ntcp = 2;
	engine_start(g);
	engine_period(g);
	ok(fk.created[0] == 2, "the first walk is followed at once by the next (paced)");
	before = fk.created[0];
	engine_period(g);
	ok(fk.created[0] == before, "activation: then the walk is not due the next period");
	fk.it[0] = FAIL_READ;
	fk.kloss[TT_LOSS_RINGBUF] = 1; /* a lost event: a full walk at once */
	engine_period(g);
	ok(fk.created[0] == before + 1, "a lost event: a walk the next period");
	fk.it[0] = OK;
	fk.ntcp = 1; /* 0x2000 is not met */
	engine_period(g);
	ok(fk.created[0] == before + 2 && *g->k.full_pass,
	   "that walk failed: another, full, the period after");
	engine_period(g);
	ok(fk.created[0] == before + 3, "it missed a connection: a full walk the next period");
	engine_period(g);
	ok(fk.created[0] == before + 3, "... which ended it: the walk is not due again");
	finish(g, &res);
	ok(res.closes == 1 && res.loss[LOSS_FLOW_EVICTED] == 1,
	   "the connection two whole walks missed is ended, counted evicted (%d, %llu)", res.closes,
	   (unsigned long long)res.loss[LOSS_FLOW_EVICTED]);
	ok(res.loss[LOSS_WALK_FAILED] == 1, "one walk failed (%llu)",
	   (unsigned long long)res.loss[LOSS_WALK_FAILED]);
}

/* The refresh of the polled map: rf__polled's own result, a BPF_PROG_TEST_RUN refused, and
 * it__polled that keeps answering EAGAIN. */
static void test_refresh_fails(void)
{
	struct engine *g = start(true, POLL_RUN);
	struct result res;

	fk.pol[0].e = tcp_rec(0x3000, 40002, 5);
	fk.pol[0].e.type = TT_POLLED;
	fk.npol = fk.npolled = 1;
	fk.rf_retval = 1; /* bpf_for_each_map_elem failed in the kernel */
	engine_start(g);
	engine_period(g);
	fk.rf_retval = 0;
	fk.rf_fail = 1;
	engine_period(g);
	finish(g, &res);
	ok(res.loss[LOSS_WALK_FAILED] == 3,
	   "rf__polled returning failure, or not run: counted each period (%llu)",
	   (unsigned long long)res.loss[LOSS_WALK_FAILED]);
	ok(res.opens == 0, "... and the map it did not refresh is not read (%d opened)", res.opens);
	ok(res.said == 1 && strstr(res.err, "the refresh of the polled connections failed"),
	   "... said once: %s", res.err);

	g = start(false, POLL_ITER);
	fk.npolled = 1;
	fk.it[IT_POLLED - IT_TCP] = AGAIN;
	engine_start(g);
	finish(g, &res);
	ok(res.loss[LOSS_WALK_FAILED] == 1 && strstr(res.err, "Resource temporarily unavailable"),
	   "it__polled: EAGAIN without end is a refresh cut short, counted: %s", res.err);

	/* the polled map's read itself */
	g = start(true, POLL_RUN);
	fk.pol[0].e = tcp_rec(0x3000, 40002, 5);
	fk.npol = fk.npolled = 1;
	fk.polled = FAIL_BATCH;
	engine_start(g);
	finish(g, &res);
	ok(res.loss[LOSS_WALK_FAILED] == 1 && strstr(res.err, "reading the polled connections"),
	   "a failed read of the polled map: counted, said: %s", res.err);
}

static struct tt_udp_key ukey(uint64_t sock, uint16_t rport)
{
	struct tt_udp_key k = { .sock = sock, .lport = 5353, .rport = rport, .family = 2 };

	return k;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

/* A UDP socket that iter/udp meets, and a flow of it to port 53 in the kernel's table (the
 * programs count one entry), its last datagram now. */
static void fake_udp_flow(uint64_t sock)
{
	fk.udp[0] = (struct tt_event){ .type = TT_IT_UDP,
				       .proto = 17,
				       .family = 2,
				       .netns = NS,
				       .sock = sock,
				       .lport = 5353 };
	fk.nudp = 1;
	fk.ukey[0] = ukey(sock, 53);
	fk.uval[0] = (struct tt_udp_val){ .bytes_out = 10, .pkts_out = 1, .netns = NS };
	fk.uval[0].last_ts = now_ns();
	fk.nflows = fk.udp_nflows = 1;
}

/* iter/udp, then the UDP flow table, unreadable: a failed read ends no flow. The flow's
 * socket is not met and its last datagram is older than the timeout (0.3 s): a whole read of
 * either would end it. */
static void udp_fails(bool iter, const char *what, const char *said)
{
	struct engine *g = start(false, POLL_NONE);
	struct result res;

	fake_udp_flow(0x7000);
	fk.touch[0].ts = 1;
	engine_start(g);
	if (iter) {
		fk.it[IT_UDP - IT_TCP] = FAIL_CREATE;
		fk.uval[0].last_ts = now_ns() + SEC; /* fresh: only the socket's end could end it */
	} else {
		fk.udp_flows = FAIL_BATCH;
		usleep(400000);
	}
	for (int i = 0; i < 2; i++) {
		fk.touch[0].ts += 1; /* datagrams came */
		engine_period(g);
	}
	finish(g, &res);
	ok(res.opens == 1 && res.closes == 0, "%s unreadable: the flow is not ended (%d closed)",
	   what, res.closes);
	ok(res.loss[LOSS_WALK_FAILED] == 2, "... 2 reads failed, counted (%llu)",
	   (unsigned long long)res.loss[LOSS_WALK_FAILED]);
	ok(res.said == 1 && strstr(res.err, said), "... said once: %s", res.err);
}

static void test_udp_fails(void)
{
	udp_fails(true, "iter/udp", "the walk of the UDP sockets (iter/udp) failed");
	udp_fails(false, "the UDP flow table", "reading the UDP flow table failed");
}

/* A UDP socket of another namespace (the walk never meets it) released: its flows end at
 * the next read of the flow table, with their final counts; one whose flow was not read yet
 * when the release came (it sent and closed within the period) is opened and ended there. */
static void udp_released(bool read_before, const char *what)
{
	struct engine *g = start(false, POLL_NONE);
	struct tt_event rel = { .type = TT_EV_UDP_RELEASE, .proto = 17, .family = 2 };
	struct result res;

	rel.sock = 0x8000;
	fk.ukey[0] = ukey(0x8000, 53);
	fk.uval[0] = (struct tt_udp_val){ .bytes_out = 10, .pkts_out = 1, .netns = NS + 1 };
	fk.uval[0].last_ts = now_ns() + 60 * SEC; /* fresh: the timeout ends nothing */
	fk.nflows = fk.udp_nflows = read_before;
	fk.touch[0].ts = read_before;
	engine_start(g);
	engine_period(g);
	fk.nflows = fk.udp_nflows = 1;
	fk.uval[0].bytes_out = 25; /* the datagrams sent before the release */
	fk.touch[0].ts += 1;
	rel.ts = now_ns();
	ok(!xlate_event(g->xl, &rel), "%s: the release taken", what);
	engine_period(g);
	engine_period(g);
	finish(g, &res);
	ok(res.opens == 1 && res.closes == 1 && res.closed_out == 25,
	   "%s: the flow ends once, with its final counts (%d opened, %d closed, %llu out)", what,
	   res.opens, res.closes, (unsigned long long)res.closed_out);
}

static void test_udp_released(void)
{
	udp_released(true, "released after its flow was read");
	udp_released(false, "released before its flow was read");
}

/* The kernel's loss counters: a failed read keeps the last values. */
static void test_loss_read(void)
{
	struct engine *g = start(false, POLL_NONE);
	struct result res;

	fk.kloss[TT_LOSS_RINGBUF] = 7;
	fk.kloss[TT_LOSS_OWNERS_FULL] = 3;
	engine_start(g);
	fk.loss = FAIL_BATCH;
	engine_period(g);
	finish(g, &res);
	ok(res.loss[LOSS_RINGBUF] == 7 && res.loss[LOSS_OWNERS_FULL] == 3,
	   "loss counters unreadable: the last values stay (not 0)");
	ok(res.loss[LOSS_WALK_FAILED] == 2,
	   "... both failed reads of the period counted (before the walk, for the record)");
}

/* The walk of the processes' sockets that failed is run again the next period. */
static void test_owners_retried(void)
{
	struct engine *g = start(false, POLL_NONE);
	struct result res;

	fk.it[IT_OWNERS - IT_TCP] = FAIL_CREATE;
	engine_start(g);
	fk.it[IT_OWNERS - IT_TCP] = OK;
	engine_period(g);
	engine_period(g);
	ok(fk.created[IT_OWNERS - IT_TCP] == 2, "the owners' walk failed at start: run again once");
	finish(g, &res);
}

/* Without an accept hook, connections found without an owner bring another walk of the
 * processes' sockets; not while the owners map the last one found full has no room: at a
 * million sockets each walk takes seconds of CPU and records nothing. */
static void test_owners_full_waits(void)
{
	struct engine *g = start(false, POLL_NONE);
	struct result res;
	int i;

	g->k.accept = false;
	fk.ntcp = 1;
	fk.tcp[0] = tcp_rec(0x1000, 40000, 1); /* no owner */
	engine_start(g);
	fk.kloss[TT_LOSS_OWNERS_FULL] = 5; /* the next walk finds the map full */
	engine_period(g);
	ok(fk.created[IT_OWNERS - IT_TCP] == 2,
	   "no accept hook: a connection without owner brings another walk of the sockets");
	fk.tcp[0] = tcp_rec(0x2000, 40001, 2);
	for (i = 0; i < 70; i++)
		engine_period(g);
	ok(fk.created[IT_OWNERS - IT_TCP] == 2,
	   "... that one found the map full: none in 70 periods while it has no room (%d)",
	   fk.created[IT_OWNERS - IT_TCP]);
	fk.owners_removed = 1;		   /* a close made room */
	fk.kloss[TT_LOSS_OWNERS_FULL] = 6; /* ... which the next walk fills */
	engine_period(g);
	ok(fk.created[IT_OWNERS - IT_TCP] == 3, "... an owner removed since: one more (%d)",
	   fk.created[IT_OWNERS - IT_TCP]);
	fk.tcp[0] = tcp_rec(0x3000, 40002, 3);
	engine_period(g);
	fk.owners_removed = 2;
	for (i = 0; i < 30; i++)
		engine_period(g);
	ok(fk.created[IT_OWNERS - IT_TCP] == 3,
	   "... full again, room again: none within 30 periods of it (%d)",
	   fk.created[IT_OWNERS - IT_TCP]);
	for (i = 0; i < 40; i++)
		engine_period(g);
	ok(fk.created[IT_OWNERS - IT_TCP] == 4, "... one more after %d periods (%d)",
	   OWNERS_FULL_WAIT, fk.created[IT_OWNERS - IT_TCP]);
	finish(g, &res);
	ok(res.loss[LOSS_OWNERS_FULL] == 6, "owners_full reaches the stream (%llu)",
	   (unsigned long long)res.loss[LOSS_OWNERS_FULL]);
}

/* A walk longer than a period's slice (a quarter of the interval) goes on the next period from
 * where it stopped: one iterator for the whole walk, a TICK each period meanwhile, every record
 * met once, and the walk's end drawn once. */
static void test_walk_in_slices(void)
{
	struct engine *g = start_every(true, POLL_RUN, SEC / 100);
	struct result res;
	int periods = 1;

	fk.it[0] = SLOW;
	fk.slow_n = 2000;
	fk.slow_us = 5000;
	engine_start(g);
	while (g->walk.it.fd >= 0 && periods < 500) {
		engine_period(g);
		periods++;
	}
	ok(fk.created[0] == 1 && g->walk.it.fd < 0,
	   "a walk of 2000 records, 5 ms a batch of 200: one iterator, read to its end");
	ok(periods >= 3 && g->walk.periods == (uint64_t)periods,
	   "... over %d periods of a 2.5 ms slice", periods);
	finish(g, &res);
	ok(res.opens == 2000 && res.ticks == periods,
	   "... every connection opened once (%d), a TICK each period (%d)", res.opens, res.ticks);
	ok(res.loss[LOSS_WALK_FAILED] == 0 && res.said == 0,
	   "... whole: nothing failed, nothing said");
}

/* A quiet host: what holds nothing is not read. The programs' counts say there is nothing
 * polled and no UDP flow; the per-CPU stamps say whether a datagram came since the flow table
 * was last read. */
static void test_quiet(void)
{
	struct engine *g = start(true, POLL_RUN);
	struct result res;
	int walks, udp_walks, runs, batches;

	engine_start(g);
	engine_period(g); /* the first walk's follower */
	walks = fk.created[0];
	udp_walks = fk.created[IT_UDP - IT_TCP];
	runs = fk.rf_runs;
	batches = fk.batches;
	for (int i = 0; i < 5; i++)
		engine_period(g);
	ok(fk.rf_runs == runs && fk.batches == batches,
	   "nothing polled, no UDP flow: no refresh, no map read in 5 periods");
	ok(fk.created[IT_UDP - IT_TCP] == udp_walks && udp_walks == 1 && walks == 2,
	   "... iter/udp at start only (%d)", fk.created[IT_UDP - IT_TCP]);
	ok(fk.created[0] == walks, "... and no walk before it is due");
	/* a flow: read once after a datagram, not while none comes */
	fake_udp_flow(0x7100);
	fk.touch[1].ts = 5;
	batches = fk.batches;
	engine_period(g);
	ok(fk.batches == batches + 1, "a datagram counted: the flow table read");
	for (int i = 0; i < 3; i++)
		engine_period(g);
	ok(fk.batches == batches + 1, "... and not again while no other comes");
	ok(fk.created[IT_UDP - IT_TCP] == udp_walks + 3,
	   "... iter/udp each period while it lives (%d)", fk.created[IT_UDP - IT_TCP] - udp_walks);
	fk.touch[1].ts = 9;
	engine_period(g);
	ok(fk.batches == batches + 2, "another datagram: read again");
	/* a polled connection: refreshed and read each period */
	fk.pol[0].e = tcp_rec(0x3100, 40100, 5);
	fk.pol[0].e.type = TT_POLLED;
	fk.npol = fk.npolled = 1;
	runs = fk.rf_runs;
	engine_period(g);
	engine_period(g);
	ok(fk.rf_runs == runs + 2, "one connection polled: refreshed each period");
	finish(g, &res);
	ok(res.opens == 2, "... read: the flow and the connection opened (%d)", res.opens);
}

/* The last period: a walk under way with activation is dropped (the polled reads have the
 * final counters); it ends nothing. */
static void test_end_drops_walk(void)
{
	struct engine *g = start_every(true, POLL_RUN, SEC / 100);
	struct result res;

	fk.it[0] = SLOW;
	fk.slow_n = 2000;
	fk.slow_us = 5000;
	engine_start(g);
	ok(g->walk.it.fd >= 0, "a walk under way");
	ok(!engine_end(g), "the end");
	ok(g->walk.it.fd < 0, "... closes its iterator");
	finish(g, &res);
	ok(res.opens < 2000 && res.closes == 0 && res.loss[LOSS_WALK_FAILED] == 0,
	   "... what it met is opened (%d), nothing ended, nothing counted as failed", res.opens);
}

/* A walk begun on time spreads its CPU over the gap to the next: each period reads it for the
 * last walk's cost over as many periods (here less than a chunk: one chunk a period); the first
 * goes as fast as the period's slice allows, and the next follows it at once, paced. */
static void test_walk_paced(void)
{
	struct engine *g = start(true, POLL_RUN); /* --full-walk 60, interval 0.2 s */
	struct result res;
	size_t most, least;
	int periods = 0;

	fk.it[0] = SLOW;
	fk.slow_n = 2000;
	engine_start(g);
	ok(g->walk.it.fd < 0 && g->walk.periods == 1,
	   "the first walk, 2000 records at once: read whole in its period");
	while ((fk.created[0] < 2 || g->walk.it.fd >= 0) && periods < 100) {
		engine_period(g);
		periods++;
	}
	/* a chunk is 128 KiB (engine.c's CHUNK), read while a 32 KiB read still fits in it: 96
	 * to 128 KiB of records (423 to 564 of 232 bytes, with the TCP figures) */
	most = 128 * 1024 / sizeof(struct tt_event);
	least = 96 * 1024 / sizeof(struct tt_event);
	ok(fk.created[0] == 2 && g->walk.periods >= (2000 + most - 1) / most &&
		   g->walk.periods <= (2000 + least - 1) / least,
	   "the next, at once, paced: a chunk (%zu to %zu records) a period, over %llu periods",
	   least, most, (unsigned long long)g->walk.periods);
	/* a third, due on time, paced; an event lost after its first period: the rest at once */
	g->walk.last -= 61 * SEC;
	engine_period(g);
	fk.kloss[TT_LOSS_RINGBUF] = 1;
	engine_period(g);
	ok(fk.created[0] == 3 && g->walk.it.fd < 0 && g->walk.periods == 2,
	   "an event lost while a walk is paced: it reads the rest in the next period (%llu)",
	   (unsigned long long)g->walk.periods);
	finish(g, &res);
	ok(res.opens == 2000 && res.closes == 0, "... each connection opened once, none ended");
}

int main(void)
{
	test_walk_fails();
	test_walk_forced();
	test_refresh_fails();
	test_udp_fails();
	test_udp_released();
	test_loss_read();
	test_owners_retried();
	test_owners_full_waits();
	test_walk_in_slices();
	test_walk_paced();
	test_quiet();
	test_end_drops_walk();
	return done_testing();
}
