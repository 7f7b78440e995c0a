-- The two bundled detections as a user would write them in SQLite over an
-- osquery results log (the filesystem logger's event format), with
-- SQLite's JSON functions and indexes. benchcompare imports the log into
-- table raw (one line per row) before this script and compares what it
-- prints with `osqdetect scan --no-rate-limit` on the same log.
--
-- Output: rule_id|host_id|pid|time, one line per alert.

-- One row per event, the columns the detections read.
CREATE TABLE ev AS
SELECT rowid AS seq,
       coalesce(line ->> '$.decorations.host_uuid', line ->> '$.hostIdentifier') AS host,
       CASE WHEN line ->> '$.name' LIKE '%socket_events' THEN 'socket' ELSE 'process' END AS tbl,
       CAST(line ->> '$.columns.time' AS INTEGER) AS time,
       CAST(line ->> '$.columns.pid' AS INTEGER) AS pid,
       CAST(line ->> '$.columns.parent' AS INTEGER) AS parent,
       line ->> '$.columns.path' AS path,
       -- the base name: the path without what rtrim leaves of it when
       -- told to trim every character but '/'
       replace(line ->> '$.columns.path',
               rtrim(line ->> '$.columns.path', replace(line ->> '$.columns.path', '/', '')), '') AS name,
       line ->> '$.columns.cmdline' AS cmdline,
       line ->> '$.columns.syscall' AS syscall,
       line ->> '$.columns.action' AS action,
       line ->> '$.columns.remote_address' AS raddr
FROM raw
WHERE line ->> '$.action' = 'added';

CREATE INDEX ev_host_pid ON ev(host, pid, tbl, seq);

-- A process's parent is the latest exec of its parent pid on the host
-- before it (osquery's rows carry only the parent's pid).
CREATE TABLE exec AS
SELECT e.*,
       (SELECT p.name FROM ev p
         WHERE p.host = e.host AND p.pid = e.parent AND p.tbl = 'process' AND p.seq < e.seq
         ORDER BY p.seq DESC LIMIT 1) AS parent_name
FROM ev e
WHERE e.tbl = 'process' AND e.syscall IN ('execve', 'execveat');

CREATE INDEX exec_host_pid ON exec(host, pid, seq);

-- Potential Reverse Shell via Suspicious Binary: an exec from a writable
-- place by a shell, a connection out by the same process, then the same
-- process becomes a shell, within a second of the first.
WITH suspicious(pattern) AS (VALUES
  ('./%'), ('/tmp/%'), ('/var/tmp/%'), ('/var/www/%'), ('/dev/shm/%'), ('/etc/init.d/%'), ('/etc/rc%.d/%'),
  ('/etc/crontab'), ('/etc/cron.%'), ('/etc/update-motd.d/%'), ('/usr/lib/update-notifier/%'),
  ('/boot/%'), ('/srv/%'), ('/run/%'), ('/root/%'), ('/etc/rc.local')),
shells(name) AS (VALUES ('bash'), ('dash'), ('sh'), ('tcsh'), ('csh'), ('zsh'), ('ksh'), ('fish'))
SELECT DISTINCT 'fa3a59dc-33c3-43bf-80a9-e8437a922c7f', e3.host, e3.pid, e3.time
FROM exec e1
JOIN ev s ON s.host = e1.host AND s.pid = e1.pid AND s.tbl = 'socket' AND s.seq > e1.seq AND s.time <= e1.time + 1
JOIN exec e3 ON e3.host = e1.host AND e3.pid = e1.pid AND e3.seq > s.seq AND e3.time <= e1.time + 1
WHERE EXISTS (SELECT 1 FROM suspicious WHERE e1.path LIKE pattern)
  AND e1.parent_name IN (SELECT name FROM shells)
  AND e1.name NOT IN ('curl', 'wget', 'ping', 'apt', 'dpkg', 'yum', 'rpm', 'dnf', 'dockerd')
  AND s.action IN ('connect', 'accept')
  AND EXISTS (SELECT 1 FROM suspicious WHERE s.path LIKE pattern)
  AND s.raddr NOT IN ('', '127.0.0.1', '::1')
  AND e3.name IN (SELECT name FROM shells)
  AND e3.parent_name IN (SELECT name FROM shells);

-- System Binary Symlink to Suspicious Location (new_terms on host.id and
-- process.parent.name): the first matching exec of each pair. A KQL term
-- on process.args holds when some argument matches it; arguments are the
-- command line split on spaces.
WITH args AS (
  SELECT host, pid, time, seq, parent_name, ' ' || cmdline || ' ' AS a
  FROM exec
  WHERE parent_name IS NOT NULL AND name = 'ln'
),
hits AS (
  SELECT * FROM args
  WHERE (a GLOB '* /bin/*' OR a GLOB '* /lib/*' OR a GLOB '* /lib64/*' OR a GLOB '* /sbin/*'
         OR a GLOB '* /usr/bin/*' OR a GLOB '* /usr/lib/*' OR a GLOB '* /usr/lib64/*'
         OR a GLOB '* /usr/local/bin/*' OR a GLOB '* /usr/local/lib/*' OR a GLOB '* /usr/local/lib64/*'
         OR a GLOB '* /usr/local/sbin/*' OR a GLOB '* /usr/sbin/*')
    AND (a GLOB '* /*/.*' OR a GLOB '* /dev/shm/*' OR a GLOB '* /home/*' OR a GLOB '* /root/*'
         OR a GLOB '* /tmp/*' OR a GLOB '* /var/tmp/*')
    AND NOT (a GLOB '* /usr/bin/coreutils *' OR a GLOB '* /tmp/mkinitcpio*'
             OR a GLOB '* /var/tmp/dracut*' OR a GLOB '* /var/tmp/mkinitramfs*')
)
SELECT 'd19a2399-f8e2-4b10-80d8-a561ce9d24d1', h.host, h.pid, h.time
FROM hits h
WHERE h.seq = (SELECT min(seq) FROM hits f WHERE f.host = h.host AND f.parent_name = h.parent_name);
