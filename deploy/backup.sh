#!/usr/bin/env bash
# Nightly online backup of a running vigild, for cron or a systemd timer:
#   deploy/backup.sh /var/lib/vigil /var/backups/vigil
# Backups in the same directory share unchanged files, so keeping many is
# cheap. Each backup is verified (checksums) when it is taken. Copy the backup
# directory off the machine as well: it holds all the data, so store it
# encrypted and access-controlled like the server itself.
set -euo pipefail
data_dir=${1:?usage: backup.sh DATA_DIR BACKUP_DIR}
backup_dir=${2:?usage: backup.sh DATA_DIR BACKUP_DIR}
vigild=${VIGILD:-vigild}
umask 077
"$vigild" backup --data-dir "$data_dir" --to "$backup_dir"
"$vigild" list-backups --from "$backup_dir"
