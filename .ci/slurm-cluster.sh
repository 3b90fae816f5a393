#!/usr/bin/env bash
# A single-node SLURM cluster on localhost, for the real-SLURM test (tests/test_slurm.py).
# Installs Debian's slurm-wlm daemons and munge when missing, writes slurm.conf, starts munged,
# slurmctld and slurmd by hand (no systemd) and waits until the node is idle.
# Usage (as root): .ci/slurm-cluster.sh up | down | status
# With accounting, as most clusters have it: slurmdbd on Debian's MariaDB (socket only), so
# `sacct` works and the executor plugin's default job status (sacct) is exercised; the test also
# runs with --slurm-status-command squeue (MinJobAge=300 keeps finished jobs visible to squeue
# and `scontrol show job`). Measured facts behind this setup: ../shared/notes/slurm.md.
set -euo pipefail
STATE=/var/lib/nasstages-slurm
CONF=/etc/slurm/slurm.conf

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
     && command -v munged >/dev/null; then
    return
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

install_accounting() {
  if command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null; then
    return
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmdbd mariadb-server >/dev/null
}

start_mariadb() {
  # socket only (no TCP), run as user mysql, which must own its folders
  mkdir -p /run/mysqld /var/lib/mysql
  chown mysql:mysql /run/mysqld /var/lib/mysql
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  fi
  if ! pgrep -x mariadbd >/dev/null; then
    runuser -u mysql -- /usr/sbin/mariadbd --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
      --skip-networking --pid-file=/run/mysqld/mysqld.pid >/var/log/slurm/mariadb.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    [ -S /run/mysqld/mysqld.sock ] && mariadb -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
              CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'nasstages';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
}

write_dbd_conf() {
  cat > /etc/slurm/slurmdbd.conf <<DBD
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=nasstages
DBD
  chmod 0600 /etc/slurm/slurmdbd.conf
}

start_slurmdbd() {
  pgrep -x slurmdbd >/dev/null || slurmdbd
  for _ in $(seq 1 60); do
    sacctmgr -n list cluster >/dev/null 2>&1 && break
    sleep 0.5
  done
  # the cluster must be known to the database before slurmctld registers with it
  sacctmgr -n list cluster format=cluster | grep -qw nasstages || sacctmgr -i add cluster nasstages >/dev/null
}

start_munge() {
  mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
  chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
}

write_conf() {
  local host node
  host=$(hostname -s)
  # CPUs, sockets, cores and memory exactly as slurmd sees them (a larger RealMemory drains the node)
  node=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=${host}/")
  mkdir -p "$STATE/ctld" "$STATE/d" /var/log/slurm /etc/slurm
  cat > "$CONF" <<CONF
ClusterName=nasstages
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=300
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
${node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=cpu Nodes=${host} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=${host} Default=NO MaxTime=INFINITE State=UP
CONF
}

up() {
  install_packages
  install_accounting
  start_munge
  write_conf
  write_dbd_conf
  start_mariadb
  start_slurmdbd
  pgrep -x slurmctld >/dev/null || slurmctld
  pgrep -x slurmd >/dev/null || slurmd
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
      sinfo
      return 0
    fi
    sleep 1
  done
  echo "slurm node did not become idle; see /var/log/slurm/" >&2
  sinfo >&2 || true
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  return 1
}

down() {
  for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid; do
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) sinfo && sacct -n -X -o JobID,State | tail -n 5 ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
