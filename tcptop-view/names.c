// SPDX-License-Identifier: GPL-2.0-or-later
/* Names for numbers the view alone shows: named network namespaces and port services. Host
 * names (reverse DNS) are lib/dns.c's, shared with tcptop-csv. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "names.h"
#include "util.h"

/* ---- network namespaces ---- */

#define NETNS_MAX 256

static struct {
	bool loaded, local;
	size_t n;
	uint32_t ino[NETNS_MAX];
	char name[NETNS_MAX][64];
} ns;

static bool same_host(const struct stream_header *h)
{
	char boot[HOST_BOOT_LEN];

	boot_id_read(boot, sizeof(boot));
	/* tests point TCPTOP_NETNS_DIR at a directory of their own and accept any stream */
	if (getenv("TCPTOP_NETNS_DIR"))
		return true;
	return boot[0] && strcmp(boot, h->boot_id) == 0;
}

const char *netns_name(const struct stream_header *h, uint32_t netns)
{
	if (!ns.loaded) {
		const char *dir =
			getenv("TCPTOP_NETNS_DIR") ? getenv("TCPTOP_NETNS_DIR") : "/run/netns";
		DIR *d;
		struct dirent *e;

		ns.loaded = true;
		ns.local = same_host(h);
		d = ns.local ? opendir(dir) : NULL;
		while (d && (e = readdir(d)) && ns.n < NETNS_MAX) {
			char path[4096];
			struct stat sb;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (stat(path, &sb) < 0)
				continue;
			ns.ino[ns.n] = (uint32_t)sb.st_ino;
			text_sanitize(ns.name[ns.n], sizeof(ns.name[0]), e->d_name,
				      strnlen(e->d_name, 15));
			ns.n++;
		}
		if (d)
			closedir(d);
	}
	for (size_t i = 0; i < ns.n; i++)
		if (ns.ino[i] == netns)
			return ns.name[i];
	return NULL;
}

/* ---- services ---- */

static char *svc[2][65536]; /* [udp][port]; "" known to have none */

const char *service_name(uint16_t port, uint8_t proto)
{
	int u = proto == PROTO_UDP;
	char **s = &svc[u][port];

	if (!*s) {
		struct servent *se = getservbyport(htons(port), u ? "udp" : "tcp");
		char buf[SANITIZE_SIZE(32)];

		if (se && se->s_name)
			text_sanitize(buf, sizeof(buf), se->s_name, strnlen(se->s_name, 32));
		else
			buf[0] = '\0';
		*s = strdup(buf);
		if (!*s)
			return NULL;
	}
	return **s ? *s : NULL;
}
