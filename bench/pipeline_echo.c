/*
 * pipeline_echo: the benchmark's (f), the nioxide channel pipeline echo server in C.
 *
 *   pipeline_echo [PORT]     (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")
 *
 * Netty's EchoServer on nioxide's public C API (include/nioxide.h): Netty's EchoServerHandler
 * alone in each channel's pipeline, in the server frame of pipeline_server.h (one loop thread,
 * TCP_NODELAY, rusage reports on SIGUSR1/SIGTERM).
 */
#include "pipeline_server.h"

static int init_child(nx_channel_t *channel, void *attachment)
{
    (void)attachment;
    return nx_pipeline_add_last(channel, "echo", &echo_handler, NULL, NULL, NULL);
}

int main(int argc, char **argv)
{
    return pipeline_server_main(argc, argv, init_child);
}
