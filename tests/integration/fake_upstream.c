/* A misbehaving upstream for integration tests: answers every request in one bad way.
 *
 *   fake_upstream MODE [SECONDS]
 *   MODE: stall (accept, read, never answer), close (send half a body, then close), 500,
 *         badjson (200 with a body that is not JSON), wrongtype (200 with {"name": 42}),
 *         garbage (bytes that are not HTTP)
 *
 * Prints "listening on PORT" and exits by itself after SECONDS (default 30). One thread per
 * connection keeps it obviously correct; it is a test tool, not a server. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *mode;

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        if (!memmem(buf, (size_t)n, "\r\n\r\n", 4)) continue;
        const char *out = NULL;
        if (strcmp(mode, "stall") == 0) continue;
        if (strcmp(mode, "close") == 0)
            out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                  "40\r\n\r\n{\"name\": \"Alb";
        else if (strcmp(mode, "500") == 0)
            out = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops\n";
        else if (strcmp(mode, "badjson") == 0)
            out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                  "9\r\n\r\nnot json!";
        else if (strcmp(mode, "wrongtype") == 0)
            out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                  "12\r\n\r\n{\"name\": 42}";
        else
            out = "\x01\x02 this is not HTTP \xff\r\n\r\n";
        if (write(fd, out, strlen(out)) < 0) break;
        if (strcmp(mode, "close") == 0 || strcmp(mode, "garbage") == 0) break;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr,
                "usage: fake_upstream stall|close|500|badjson|wrongtype|garbage [SECONDS]\n");
        return 2;
    }
    mode = argv[1];
    alarm(argc > 2 ? (unsigned)atoi(argv[2]) : 30);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 128) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &len) != 0) {
        perror("fake_upstream");
        return 1;
    }
    printf("listening on %d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}
