/* libbpf loader of anchor.bpf.c: `anchor OBJECT CMD...` loads and attaches the recorder, runs
 * CMD as its tracked target, and prints how many syscalls it made. The anchor that syscage's
 * `record --backend ebpf` start-up is compared with in `make bench`. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int quiet(enum libbpf_print_level l, const char *f, va_list a) { return 0; }

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s OBJECT CMD...\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "anchor: loading %s failed\n", argv[1]);
		return 1;
	}
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		if (!bpf_program__attach(p)) {
			fprintf(stderr, "anchor: attaching %s failed\n", bpf_program__name(p));
			return 1;
		}
	}
	int go[2];
	if (pipe(go))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		char b;
		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(126);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	close(go[0]);
	unsigned int zero = 0, pid = child;
	bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "target"), &zero, &pid, BPF_ANY);
	if (write(go[1], "g", 1) != 1)
		return 1;
	close(go[1]);
	int status;
	waitpid(child, &status, 0);
	int counts = bpf_object__find_map_fd_by_name(obj, "counts");
	int cpus = libbpf_num_possible_cpus();
	unsigned long long *v = calloc(cpus, sizeof(*v)), total = 0;
	for (unsigned int nr = 0; nr < 1024; nr++)
		if (!bpf_map_lookup_elem(counts, &nr, v))
			for (int c = 0; c < cpus; c++)
				total += v[c];
	fprintf(stderr, "anchor: %llu syscalls\n", total);
	bpf_object__close(obj);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
