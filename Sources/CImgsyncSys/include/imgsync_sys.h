#ifndef IMGSYNC_SYS_H
#define IMGSYNC_SYS_H
// Linux calls that Swift cannot reach directly (variadic ioctl, renameat2 behind _GNU_SOURCE).
#include <spawn.h>
#include <sys/types.h>
#include <sys/xattr.h>

/// Clones all of src_fd's data into dst_fd (FICLONE). Returns 0 or -1 with errno set.
int imgsync_ficlone(int dst_fd, int src_fd);
/// renameat2 with RENAME_NOREPLACE. Returns 0 or -1 with errno set.
int imgsync_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
/// renameat2 with RENAME_EXCHANGE: atomically swaps two existing names. Returns 0 or -1 with errno set.
int imgsync_rename_exchange(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
/// copy_file_range loop for a whole file. Returns 0 or -1 with errno set.
int imgsync_copy_file(int dst_fd, int src_fd, long long size);
/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+, behind _GNU_SOURCE): the child closes
/// every descriptor >= from. Returns 0 or an error number.
int imgsync_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);
#endif
