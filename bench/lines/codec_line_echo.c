/*
 * codec_line_echo: the line benchmark's (B), nioxide's channel pipeline in C with the line
 * decoder in nioxide (bench/lines/run.sh).
 *
 *   codec_line_echo [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")
 *
 * In each channel's pipeline: nx_codec_line_based_frame_decoder (maximum line 64 KiB, the '\n'
 * kept, so each frame is exactly the bytes of one line as sent), then Netty's
 * EchoServerHandler in C (each line written back, flushed at read complete, auto-read off
 * while unwritable); the server frame of bench/pipeline_server.h (one loop thread,
 * TCP_NODELAY, rusage reports on SIGUSR1/SIGTERM).
 */
#include "../pipeline_server.h"

static int init_child(nx_channel_t *channel, void *attachment)
{
    nx_handler_t *lines;
    int rc;
    (void)attachment;
    if ((rc = nx_codec_line_based_frame_decoder(64 * 1024, 0, 0, &lines)) != 0)
        return rc;
    if ((rc = nx_pipeline_add_handler(channel, NX_PIPELINE_LAST, NULL, "lines", lines, NULL))) {
        nx_handler_free(lines); /* a failed add leaves it ours */
        return rc;
    }
    return nx_pipeline_add_last(channel, "echo", &echo_handler, NULL, NULL, NULL);
}

int main(int argc, char **argv)
{
    return pipeline_server_main(argc, argv, init_child);
}
