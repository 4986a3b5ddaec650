#!/bin/sh
# Uploads the newest backup in $BACKUP_DIR to $S3_URI/<file name> with the aws CLI (credentials
# from the environment, e.g. EKS Pod Identity or IRSA). Runs after backup.sh in the chart's backup CronJob:
#   BACKUP_DIR=./backups S3_URI=s3://bucket/prefix sh s3-upload.sh
set -eu

: "${BACKUP_DIR:?set BACKUP_DIR to the folder backup.sh writes to}"
: "${S3_URI:?set S3_URI to the destination, e.g. s3://my-bucket/hit-counter}"
case $S3_URI in
s3://?*) ;;
*) echo "s3-upload.sh: S3_URI must look like s3://bucket/prefix, got '$S3_URI'" >&2 && exit 2 ;;
esac

# The glob lists backups oldest first (the names sort by time): the last one is the newest.
newest=
for f in "$BACKUP_DIR"/dump-[0-9]*T[0-9]*Z.rdb; do
  [ -e "$f" ] && newest=${f##*/}
done
if [ -z "$newest" ]; then
  echo "s3-upload.sh: no dump-*.rdb in $BACKUP_DIR" >&2
  exit 1
fi
aws s3 cp --only-show-errors "$BACKUP_DIR/$newest" "${S3_URI%/}/$newest"
echo "${S3_URI%/}/$newest"
