#!/bin/sh
# anvil's tiny Linux: lease, call back, mark, power off. Parameters: see scripts/tiny-linux.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# How often anvil.run=nexttest-upload asks again after running wait.test.
NEXTTEST_TRIES=5
log() { echo "anvil-init: $*" > /dev/console; }
finish() {
  if [ "$ssh" = 1 ]; then sync; log "anvil.ssh=1: staying up"; while :; do sleep 3600; done; fi
  if [ "$poweroff" = 0 ]; then exec sh; fi
  sync; poweroff -f
}

server= mac= marker=ANVIL-TINY-LINUX-OK run= localboot=1 poweroff=1 ssh=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    anvil.server=*) server="${arg#anvil.server=}" ;;
    anvil.mac=*) mac="${arg#anvil.mac=}" ;;
    anvil.marker=*) marker="${arg#anvil.marker=}" ;;
    anvil.run=*) run="${arg#anvil.run=}" ;;
    anvil.localboot=*) localboot="${arg#anvil.localboot=}" ;;
    anvil.poweroff=*) poweroff="${arg#anvil.poweroff=}" ;;
    anvil.ssh=*) ssh="${arg#anvil.ssh=}" ;;
  esac
done

# anvil.ssh=1: behave as a deployed system does for VCL: mount the boot disk's filesystem (the
# first partition that is FAT or ext4) at /disk, bind its /root over /root (the login home, where
# currentimage.txt and .ssh/authorized_keys are), serve SSH with dropbear and stay up.
start_ssh() {
  for m in $(cat /lib/modules/fat); do insmod "/lib/modules/$m" 2> /dev/null; done
  mkdir -p /disk /dev/pts
  mount -t devpts devpts /dev/pts
  fs=
  for p in /sys/class/block/*; do
    [ -e "$p/partition" ] || continue
    dev="/dev/${p##*/}"
    if mount -t vfat -o umask=077 "$dev" /disk 2> /dev/null; then fs="$dev vfat"; break; fi
    if mount -t ext4 "$dev" /disk 2> /dev/null; then fs="$dev ext4"; break; fi
  done
  if [ -n "$fs" ]; then
    mkdir -p /disk/root && mount --bind /disk/root /root && log "login home /root is /root on $fs"
  else
    log "no FAT or ext4 partition: /root is in memory"
  fi
  if dropbear -R -s -p 22 -P /run/dropbear.pid 2> /tmp/dropbear.err; then
    echo "ANVIL-TINY-LINUX-SSH $mac" > /dev/console
  else
    log "dropbear did not start: $(tail -n1 /tmp/dropbear.err)"; echo "ANVIL-TINY-LINUX-FAIL dropbear $mac" > /dev/console
  fi
}

# anvil.run=nexttest-upload: fetch the next test, run it, upload its output to the run named by
# the X-Anvil-Run header (busybox wget -S prints the headers on stderr, indented), power off.
# An answer without that header is wait.test: run it and ask again, NEXTTEST_TRIES times.
nexttest_upload() {
  tries=0
  while [ "$tries" -lt "$NEXTTEST_TRIES" ]; do
    tries=$((tries + 1))
    if ! wget -S -q -O /tmp/nexttest "http://$server/nexttest/$mac/" 2> /tmp/nexttest.headers; then
      log "GET /nexttest/$mac/ failed: $(tail -n1 /tmp/nexttest.headers)"
      echo "ANVIL-TINY-LINUX-FAIL nexttest $mac" > /dev/console; finish
    fi
    runid="$(sed -n 's/^ *[Xx]-[Aa][Nn][Vv][Ii][Ll]-[Rr][Uu][Nn]: *\([0-9][0-9]*\).*$/\1/p' /tmp/nexttest.headers | head -n1)"
    if [ -n "$runid" ]; then log "running run $runid"; else log "running wait.test (try $tries of $NEXTTEST_TRIES)"; fi
    sh /tmp/nexttest > /tmp/nexttest.out 2>&1
    status=$?
    cat /tmp/nexttest.out > /dev/console
    if [ -n "$runid" ]; then
      [ "$status" = 0 ] || echo "E: test script exited with status $status" >> /tmp/nexttest.out
      if ! wget -q -O /dev/null --post-file=/tmp/nexttest.out "http://$server/upload/$runid/" 2> /tmp/upload.err; then
        log "POST /upload/$runid/ failed: $(tail -n1 /tmp/upload.err)"
        echo "ANVIL-TINY-LINUX-FAIL upload $runid" > /dev/console; finish
      fi
      echo "ANVIL-RUN-UPLOADED $runid" > /dev/console
      finish
    fi
  done
  log "no test queued after $NEXTTEST_TRIES tries"
  echo "ANVIL-TINY-LINUX-FAIL no-test $mac" > /dev/console; finish
}

for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m" || log "insmod $m failed"; done
ip link set lo up
# The NIC appears asynchronously after virtio_net loads.
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -e /sys/class/net/eth0 ] || { log "no eth0"; echo "ANVIL-TINY-LINUX-FAIL no-eth0"; finish; }
[ -n "$mac" ] || mac="$(cat /sys/class/net/eth0/address)"
ip link set eth0 up
if ! udhcpc -i eth0 -n -q -t 10 -T 2 -s /usr/share/udhcpc/default.script; then
  log "no DHCP lease"; echo "ANVIL-TINY-LINUX-FAIL no-lease $mac" > /dev/console; finish
fi
log "lease $(cat /run/ip) mac $mac server ${server:-none}"
[ "$ssh" = 1 ] && start_ssh

if [ -n "$server" ] && [ "$run" = nexttest-upload ]; then nexttest_upload; fi
if [ -n "$server" ] && [ "$run" = nexttest ]; then
  if wget -q -O /tmp/nexttest "http://$server/nexttest/$mac/"; then
    echo "ANVIL-RUN-BEGIN $mac" > /dev/console
    sh /tmp/nexttest > /dev/console 2>&1
    echo "ANVIL-RUN-END $mac status $?" > /dev/console
  else
    log "GET /nexttest/$mac/ failed"
  fi
fi
if [ -n "$server" ] && [ "$localboot" != 0 ]; then
  if ! wget -q -O - "http://$server/localboot/$mac/" > /dev/null; then
    log "GET /localboot/$mac/ failed"; echo "ANVIL-TINY-LINUX-FAIL localboot $mac" > /dev/console; finish
  fi
fi
echo "$marker $mac" > /dev/console
finish
