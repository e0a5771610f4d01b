/* The settings both servers' engines share, each stated once: how long a client may take to
 * send a request, how long an idle keep-alive connection stays open, how long a closing
 * connection drains what the client still sends, and the shape of the workload (how many calls
 * a page fans out, and the floor that follows from the slowest). The binaries' option tables
 * (fanout/cli.h) take their defaults from here, and so do the connection layers (conn_block.c,
 * server_uv.c) when a caller leaves a setting at 0. scripts/proc.sh reads FO_FANOUT_CALLS from
 * this file and states the floor rule for the shell (fo_floor_ms). */
#ifndef FANOUT_SETTINGS_H
#define FANOUT_SETTINGS_H

/* A request must arrive whole within this many ms (--header-timeout). */
#define FO_HEADER_TIMEOUT_MS 10000
/* An idle keep-alive connection is closed after this many ms (--keepalive-timeout). */
#define FO_KEEPALIVE_TIMEOUT_MS 5000
/* The listen backlog of the front server (--backlog), and of server_uv when given 0. */
#define FO_BACKLOG 1024
/* The longest any timeout flag may ask for, in ms: an hour. */
#define FO_TIMEOUT_MAX_MS 3600000

/* After its last answer, a closing connection shuts its sending side and drains what the client
 * still sends for at most this many ms before closing, so that unread bytes do not make the
 * kernel reset the connection before the client has read the answer (a "lingering close"). A
 * client that reads the answer closes within a round trip, so a second is ample; longer only
 * lets a client that keeps sending hold a blocking worker (prefork, threads) and delay a
 * graceful stop. The same for every model: a difference here would be a difference between
 * things compared. */
#define FO_LINGER_MS 1000

/* The port the country API listens on unless told otherwise (fanout-api --port), and so where
 * the front server looks for it (fanout-server --upstream). */
#define FO_API_PORT 5000

/* The calls a front page fans out to the country API at once: /<ms>/, /<2*ms>/, /<ms/2>/. */
#define FO_FANOUT_CALLS 3
/* The slowest of those calls, and so the floor of a page at ms: no model can answer sooner. */
#define FO_FLOOR_MS(ms) (2 * (ms))

#endif
