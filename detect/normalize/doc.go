// Package normalize turns osquery event rows (process_events, socket_events
// and, where present, bpf_process_events and bpf_socket_events) into
// ECS-shaped events, filled the way Elastic Defend fills them, so that
// Elastic detection rules run on them unchanged.
//
// # The process cache
//
// osquery rows carry only what one syscall saw. The parent of a process, the
// process behind a socket and a stable process identity come from a process
// cache keyed by (host, pid): seeded from the processes table (Seed, or rows
// of table "processes" given to Normalize), updated by every exec and fork
// row, bounded by LRU eviction (Options.MaxProcesses, across all hosts) and
// serializable across restarts (Snapshot, Restore).
//
// process.entity_id is synthetic: a hash of the host, the pid, the second
// the process began (its fork row, processes.start_time, or the first row
// that showed it) and the eid of that row, which tells apart two processes
// that reused a pid within one second. It survives exec, as Elastic
// Defend's does. An exec whose parent differs from the cached parent is
// taken as pid reuse and starts a new process. Evicted processes are
// forgotten: a later row of that pid starts a new identity.
//
// # Mapping decisions
//
//   - execve, execveat (and bpf "exec"): event.category process, event.type
//     start, event.action exec. A process_events row without a syscall
//     column (osquery before 4.0 logged only execve) is an execve.
//   - fork, vfork, clone: event.action fork. The row's pid is the child and
//     its parent the caller; the child inherits the caller's cached image
//     (executable, command line, args, working directory) when the row's
//     path agrees with it, else only the row's path.
//   - kill, tkill, tgkill rows are rejected: osquery's kill rows do not name
//     the target process, so no ECS event can say what was signalled.
//   - process.args is the command line split on single spaces, the separator
//     osquery joined argv with (empty elements kept); an argument that
//     itself held a space cannot be recovered. process.title equals
//     process.command_line.
//   - user.id, user.Ext.real.id, process.real_user.id are uid; process.user.id
//     and user.effective.id are euid (the group ids likewise); saved ids are
//     suid/sgid; user.audit.id is auid. bpf rows carry only uid and gid,
//     which then also stand for the effective ids.
//   - socket_events connect: network, start, connection_attempted,
//     network.direction egress; accept: connection_accepted, ingress; bind
//     (and bpf listen): event.type info, no direction. destination.* come
//     from remote_*, source.* from local_*; osquery's "0" address and port 0
//     placeholders are left out. Addresses are rendered as Elasticsearch
//     renders an ip field: IPv6 compressed, IPv4-mapped IPv6 as IPv4.
//   - network.type is ipv4 for family 2 and ipv6 for family 10; unix sockets
//     (family 1) get no network.type (ECS has none for them) and keep their
//     path in osquery.socket_path; other families are judged by the address.
//     network.transport is set only when the row has a protocol (bpf).
//   - event.outcome: status succeeded → success, failed and no_client →
//     failure, in_progress → unknown (older rows: success 1/0; bpf: the
//     exit code).
//   - Socket rows take process.entity_id, parent.* and (when the cached image
//     is the row's path) command line and args from the cache; the row's
//     path is process.executable. A socket of an unknown pid creates a cache
//     entry.
//   - event.id is "<host>:<table>:<eid>", or 32 hex digits of a SHA-256 of
//     the host, table and sorted columns when the row has no eid. Event.Time
//     is osquery's time (seconds) × 1000; Event.Seq is Row.Seq.
//
// # Ordering
//
// osquery's time is the second a batch was processed, and process and socket
// events are batched apart, so the order inside one second is lost.
// OrderSecond restores the order the rules need for one host's second;
// Reorderer buffers rows read from logs and releases each (host, second)
// ordered once it is old enough.
//
// # Shapes and deferred fields
//
// Each event carries the ecs.ShapeID of its table and action (see
// shape.go): the event.* and host fields it fixes and every field it may
// set, so that an engine can set aside rules none of its events can match.
// When Options.Reads names the fields a consumer reads to match, blocks of
// fields outside it (event.id and osquery.eid/time; a process row's user
// and group ids; process.title, args_count, working_directory and
// previous.executable; the parent's command line, args, working directory
// and ids) are left out and filled by ecs.Event.Complete, which Clone,
// Range and MarshalJSON call. Completing happens before the next Normalize
// at the latest, while the cache entries it reads are unchanged.
//
// # Costs
//
// Normalize reuses the caller's event. Strings every event needs (event.id,
// entity ids) are carved from small shared chunks; an event kept alive keeps
// its chunk (2 KiB) alive. Args arrays of the 256 most recent distinct
// command lines (up to 1 KiB each) are kept and shared, so an exec row
// allocates only for a command line not seen lately; a socket row of a
// cached process allocates nothing.
//
// A Normalizer and a Reorderer are not safe for concurrent use: call their
// methods from one goroutine or under one lock.
package normalize
