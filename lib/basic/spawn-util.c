#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "spawn-util.h"
#include "string-util.h"

extern char **environ;

int spawn_wait(char *const argv[], char **ret_output) {
        posix_spawn_file_actions_t fa;
        _cleanup_close_ int rfd = -EBADF;
        int pipefd[2], status, r;
        char buf[4096];
        size_t len = 0;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        rfd = pipefd[0];

        r = posix_spawn_file_actions_init(&fa);
        if (r != 0) {
                close(pipefd[1]);
                return -r;
        }
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r != 0)
                return -r;

        for (;;) {
                ssize_t n = read(rfd, buf + len, sizeof(buf) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (len == sizeof(buf) - 1) {
                        char sink[512];
                        while (read(rfd, sink, sizeof(sink)) > 0)
                                ;
                        break;
                }
        }
        buf[len] = 0;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (ret_output) {
                *ret_output = strdup(strstrip(buf));
                if (!*ret_output)
                        return -ENOMEM;
        }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return -ECHILD;
}

void child_reset_signals(void) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t none;

        for (int sig = 1; sig < _NSIG; sig++)
                (void) sigaction(sig, &sa, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

void child_move_fds(const int fds[3], int fd3, bool fd3_cloexec) {
        int tmp[4];

        for (int i = 0; i < 4; i++) {
                int fd = i < 3 ? fds[i] : fd3;

                if (i == 3 && fd < 0)
                        break;
                tmp[i] = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 10)
                                 : open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
                if (tmp[i] < 0)
                        _exit(126);
        }
        for (int i = 0; i < 3; i++)
                if (dup2(tmp[i], i) < 0)
                        _exit(126);
        if (fd3 >= 0 && dup3(tmp[3], 3, fd3_cloexec ? O_CLOEXEC : 0) < 0)
                _exit(126);
        (void) close_range(fd3 >= 0 ? 4 : 3, ~0U, 0);
}
