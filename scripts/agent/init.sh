#!/bin/sh
# anvil's deploy agent: the /init of .tools/anvil-agent/initrd.gz (built by scripts/anvil-agent).
# It takes a DHCP lease, says hello to anvil (protocol v1, under http://SERVER/agent/v1/), and
# does what the answer says: write an image to a disk (deploy) or upload a disk's content
# (capture), reporting progress and the result. Bodies are text/plain key=value lines; every
# request carries X-Anvil-Token. A 403 to any request means the deploy is over: the agent
# kills what it runs, prints why and powers off.
#
# Kernel command line: anvil.agent=1 anvil.server=HOST[:PORT] anvil.token=TOKEN
#   [anvil.mac=MAC] [anvil.poweroff=0 (a shell on the console instead of powering off)]
#   [anvil.sshkey=BASE64URL (the site's public key: dropbear serves root's SSH with it)]
# After a verified deploy whose answer carries login_home=, currentimage= lines (VCL's
# currentimage.txt, line by line) and authorized_key= lines, the agent mounts the written
# system's filesystem (a partition of the disk, else the whole disk) when it is ext4 or FAT and
# writes LOGIN_HOME/currentimage.txt and LOGIN_HOME/.ssh/authorized_keys; its result says
# currentimage=written DEVICE TYPE or currentimage=skipped WHY (the deploy is good either way).
# Console: a line "anvil-agent: ..." per step; the last one is machine-readable:
#   ANVIL-AGENT-DONE deploy ok | ANVIL-AGENT-DONE capture ok
#   ANVIL-AGENT-FAILED PHASE MESSAGE    (also POSTed as the result)
#   ANVIL-AGENT-ABORTED PHASE REASON    (anvil answered 403)
#   ANVIL-AGENT-STOPPED MESSAGE         (anvil answered hello with action=stop)
# The tools: busybox, and anvil-agent-io (scripts/agent/anvil-agent-io.c) for zstd, HTTP POSTs
# whose answer body matters, the chunked PUT of a capture and the verify's sha256.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

PROTOCOL=1
# Hello is retried this many times, the delay doubling from 1 s (the network may come up late).
HELLO_TRIES=7
RESULT_TRIES=4
DEFAULT_INTERVAL=2
# Seconds before hello again when anvil says wait without retry=.
DEFAULT_RETRY=5
# How often a running pipeline is looked at (seconds): its end is noticed this fast.
POLL=0.2

phase=hello pids= fat_loaded=
log() { echo "anvil-agent: $*" > /dev/console; }
finish() {
  sync
  if [ "$poweroff" = 0 ]; then log "anvil.poweroff=0: a shell instead of powering off"; exec sh; fi
  poweroff -f
}

server= token= mac= poweroff=1 sshkey=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    anvil.server=*) server="${arg#anvil.server=}" ;;
    anvil.token=*) token="${arg#anvil.token=}" ;;
    anvil.mac=*) mac="${arg#anvil.mac=}" ;;
    anvil.poweroff=*) poweroff="${arg#anvil.poweroff=}" ;;
    anvil.sshkey=*) sshkey="${arg#anvil.sshkey=}" ;;
  esac
done
export ANVIL_TOKEN="$token"

# ---- answers and requests ----

# The first value of KEY in an answer file (default: the last answer).
get() { sed -n "s/^$1=//p" "${2:-/tmp/answer}" | head -n1; }

# Centiseconds since boot, and centiseconds as decimal seconds.
now() { read -r up _ < /proc/uptime; echo "${up%.*}${up#*.}"; }
seconds() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }

# URL with its host replaced by an address: anvil-agent-io only takes numeric ones.
numeric_url() {
  rest="${1#http://}" hostport="${rest%%/*}"
  host="${hostport%:*}"
  case "$host" in
    *[!0-9.]*) ;;
    *) echo "$1"; return ;;
  esac
  case "$hostport" in \[*) echo "$1"; return ;; esac
  addr="$(nslookup "$host" 2> /dev/null | sed -n '/^Name:/,$ s/^Address[: ]*\([0-9.]*\)$/\1/p' | head -n1)"
  [ -n "$addr" ] || { echo "$1"; return; }
  echo "http://$addr${hostport#"$host"}/${rest#*/}"
}

# The agent ends because anvil answered 403 (to what: $1): stop everything, say why, power off.
aborted() {
  [ -n "$pids" ] && kill $pids 2> /dev/null
  reason="$(get message "$2")"
  [ -n "$reason" ] || reason="$(tail -n1 "$3")"
  log "anvil answered 403 to $1: the deploy is over ($reason)"
  echo "ANVIL-AGENT-ABORTED $phase $reason" > /dev/console
  finish
}

# POSTs the file $2 to /agent/v1/$1; the answer is in /tmp/answer, an error in /tmp/api.err.
api() {
  anvil-agent-io post "$base/$1" < "$2" > /tmp/answer 2> /tmp/api.err
  rc=$?
  [ "$rc" = 3 ] && aborted "$1" /tmp/answer /tmp/api.err
  return "$rc"
}

# POSTs the result (its lines as arguments) and does what the answer says; never returns.
result() {
  printf '%s\n' "$@" > /tmp/result
  tries=0
  until api result /tmp/result; do
    tries=$((tries + 1))
    if [ "$tries" -ge "$RESULT_TRIES" ]; then
      log "the result did not reach anvil: $(tail -n1 /tmp/api.err)"
      echo "ANVIL-AGENT-FAILED result not delivered: $(tail -n1 /tmp/api.err)" > /dev/console
      finish
    fi
    sleep "$tries"
  done
  [ "$status" = ok ] && echo "ANVIL-AGENT-DONE $action ok" > /dev/console
  case "$(get action)" in
    wait) log "anvil will power-cycle this machine; idling"; while :; do sleep 3600; done ;;
    reboot) log "rebooting"; sync; reboot -f ;;
    *) log "powering off"; finish ;;
  esac
}

# A failure in $1 (a phase) with message $2: reported to anvil and on the console.
failed() {
  [ -n "$pids" ] && kill $pids 2> /dev/null
  status=failed
  log "$1 failed: $2"
  echo "ANVIL-AGENT-FAILED $1 $2" > /dev/console
  result status=failed "phase=$1" "message=$2" "bytes=${bytes:-0}"
}

# Reports progress of phase $1 every $interval s while process $2 runs (bytes: its /proc io
# counter $3, rchar or wchar); returns when it has exited. A 403 answer ends the agent.
watch() {
  local last stat state count
  last=$(now)
  while :; do
    { read -r stat < "/proc/$2/stat"; } 2> /dev/null || return
    state="${stat#*) }"
    [ "${state%% *}" = Z ] && return
    sleep "$POLL"
    [ $(($(now) - last)) -ge $((interval * 100)) ] || continue
    last=$(now)
    count="$(sed -n "s/^$3: //p" "/proc/$2/io" 2> /dev/null)"
    [ -n "$count" ] || continue
    printf 'phase=%s\nbytes=%s\n' "$1" "$count" > /tmp/progress
    api progress /tmp/progress || log "progress report failed: $(tail -n1 /tmp/api.err)"
  done
}

# $1 if it is a whole number, else $2.
number_or() { case "$1" in '' | *[!0-9]*) echo "$2" ;; *) echo "$1" ;; esac; }

# The size in bytes of a block device (/dev/NAME).
device_bytes() { echo $(($(cat "/sys/block/${1#/dev/}/size") * 512)); }

# ---- hello ----

# The hello body: NICs, disks and what the agent is.
hello_body() {
  for n in /sys/class/net/*; do
    [ "${n##*/}" = lo ] || echo "mac=$(cat "$n/address")"
  done
  for b in /sys/block/*; do
    d="${b##*/}"
    case "$d" in loop* | ram* | sr* | fd* | zram* | dm-*) continue ;; esac
    echo "disk=$d"
    echo "disk.$d.size=$(($(cat "$b/size") * 512))"
    model="$(cat "$b/device/model" 2> /dev/null | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
    [ -n "$model" ] && echo "disk.$d.model=$model"
    serial="$(cat "$b/serial" 2> /dev/null || cat "$b/device/serial" 2> /dev/null)"
    serial="$(echo "$serial" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
    [ -n "$serial" ] && echo "disk.$d.serial=$serial"
    echo "disk.$d.rotational=$(cat "$b/queue/rotational" 2> /dev/null || echo 0)"
    echo "disk.$d.removable=$(cat "$b/removable" 2> /dev/null || echo 0)"
  done
  echo "kernel=$(uname -r)"
  echo "agent=$PROTOCOL"
}

# ---- SSH and the login files ----

# dropbear on port 22 for root with the site's key from the command line (base64url, unpadded).
start_ssh() {
  [ -n "$sshkey" ] || return 0
  b64="$(echo "$sshkey" | tr '_-' '/+')"
  while [ $((${#b64} % 4)) != 0 ]; do b64="$b64="; done
  mkdir -p /root/.ssh /dev/pts && chmod 700 /root /root/.ssh
  mount -t devpts devpts /dev/pts 2> /dev/null
  echo "$b64" | base64 -d > /root/.ssh/authorized_keys 2> /dev/null && echo >> /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
  if dropbear -R -s -p 22 -P /run/dropbear.pid 2> /tmp/dropbear.err; then log "dropbear: SSH on port 22 with the site's key"; else log "dropbear did not start: $(tail -n1 /tmp/dropbear.err)"; fi
}

# Mounts DEVICE at /mnt as ext4 or FAT; sets fstype.
mount_fs() {
  if mount -t ext4 "$1" /mnt 2> /dev/null; then fstype=ext4; return 0; fi
  if [ -z "$fat_loaded" ]; then
    for m in $(cat /lib/modules/fat); do insmod "/lib/modules/$m" 2> /dev/null; done
    fat_loaded=1
  fi
  mount -t vfat "$1" /mnt 2> /dev/null && fstype=vfat
}

# The partitions of the disk $1 (/dev/NAME) after the kernel read its new partition table.
partitions() {
  d="${1#/dev/}"
  blockdev --rereadpt "$1" 2> /dev/null
  for p in /sys/block/"$d"/"$d"*; do
    [ -e "$p/partition" ] || continue
    i=0; while [ ! -b "/dev/${p##*/}" ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
    echo "/dev/${p##*/}"
  done
}

# Writes currentimage.txt and authorized_keys from the answer $1 into the system just written to
# $device; prints "written DEVICE TYPE" or "skipped WHY".
login_files() {
  home="$(get login_home "$1")"
  grep -q '^currentimage=' "$1" || { echo "skipped anvil sent no currentimage.txt"; return; }
  case "$home" in
    /*) ;;
    *) echo "skipped the login home '$home' is not an absolute path"; return ;;
  esac
  case "/$home/" in *'/../'*) echo "skipped the login home '$home' has a .. in it"; return ;; esac
  mkdir -p /mnt
  fstype= dev=
  for dev in $(partitions "$device") "$device"; do mount_fs "$dev" && break; done
  [ -n "$fstype" ] || { echo "skipped no ext4 or FAT filesystem on $device or its partitions"; return; }
  dir="/mnt${home%/}"
  if ! mkdir -p "$dir/.ssh" 2> /tmp/login.err; then
    umount /mnt; echo "skipped cannot make $home/.ssh on $dev ($fstype): $(tail -n1 /tmp/login.err)"; return
  fi
  sed -n 's/^currentimage=//p' "$1" > "$dir/currentimage.txt"
  keys="$dir/.ssh/authorized_keys"
  touch "$keys"
  sed -n 's/^authorized_key=//p' "$1" | while IFS= read -r key; do
    grep -qxF "$key" "$keys" || echo "$key" >> "$keys"
  done
  if [ "$fstype" = ext4 ]; then
    owner="$(stat -c '%u:%g' "$dir")"
    chown "$owner" "$dir/.ssh" "$keys" "$dir/currentimage.txt"
    chmod 700 "$dir/.ssh"
    chmod 600 "$keys"
  fi
  sync
  if ! umount /mnt 2> /tmp/login.err; then echo "skipped cannot unmount $dev: $(tail -n1 /tmp/login.err)"; return; fi
  echo "written $dev $fstype"
}

# ---- deploy ----

# Streams the image to the device (decompressing on the way), then reads it back to verify.
deploy() {
  # Progress reports overwrite /tmp/answer: the login files come from this copy.
  cp /tmp/answer /tmp/deploy.answer
  device="$(get device)" url="$(get image_url)" format="$(get format)" size="$(get size)" sha="$(get sha256)"
  interval="$(number_or "$(get progress_interval)" "$DEFAULT_INTERVAL")"
  phase=write bytes=0
  [ -b "$device" ] || failed write "$device is not a block device"
  case "$size" in '' | *[!0-9]*) failed write "bad image size '$size'" ;; esac
  have="$(device_bytes "$device")"
  [ "$size" -le "$have" ] || failed write "image of $size bytes does not fit $device of $have bytes"
  log "deploy: $url ($format, $size bytes) to $device ($have bytes)"

  # Each stage runs on its own (joined by a FIFO), so each one's exit status can be checked.
  # The writer (anvil-agent-io write: 1 MiB blocks, O_DIRECT, zstd decoded in the same process)
  # prints the bytes it wrote; its /proc io wchar is the progress.
  rm -f /tmp/net.fifo /tmp/raw.fifo
  mkfifo /tmp/net.fifo /tmp/raw.fifo
  start=$(now)
  wget -q -O - --header "X-Anvil-Token: $token" "$url" > /tmp/net.fifo 2> /tmp/wget.err &
  wget_pid=$! decoder= decoder_pid= in=/tmp/net.fifo zstd= killed=
  case "$format" in
    raw) ;;
    zstd) zstd=zstd ;;
    gzip)
      decoder=gunzip in=/tmp/raw.fifo
      gunzip -c < /tmp/net.fifo > /tmp/raw.fifo 2> /tmp/gunzip.err &
      decoder_pid=$!
      ;;
    *) kill "$wget_pid"; failed write "unknown image format '$format' (raw, gzip or zstd)" ;;
  esac
  anvil-agent-io write "$device" $zstd < "$in" > /tmp/write.out 2> /tmp/write.err &
  writer_pid=$!
  pids="$wget_pid $decoder_pid $writer_pid"
  watch write "$writer_pid" wchar
  wait "$writer_pid"; writer_rc=$?
  # The writer is done: a stage still running has nowhere to write (and failed for that
  # reason only, so its status is not the failure to report).
  for pid in $wget_pid $decoder_pid; do kill "$pid" 2> /dev/null && killed="$killed $pid"; done
  wait "$wget_pid"; wget_rc=$?
  decoder_rc=0
  [ -n "$decoder" ] && { wait "$decoder_pid"; decoder_rc=$?; }
  case " $killed " in *" $wget_pid "*) wget_rc=0 ;; esac
  case " $killed " in *" $decoder_pid "*) decoder_rc=0 ;; esac
  pids=
  bytes="$(get bytes /tmp/write.out)"
  if grep -q 'server returned error: HTTP/1.[01] 403' /tmp/wget.err; then aborted "GET $url" /dev/null /tmp/wget.err; fi
  [ "$wget_rc" = 0 ] || failed write "wget: $(tail -n1 /tmp/wget.err)"
  [ "$decoder_rc" = 0 ] || failed write "gunzip: $(tail -n1 /tmp/gunzip.err)"
  [ "$writer_rc" = 0 ] || failed write "$(tail -n1 /tmp/write.err)"
  [ "${bytes:-0}" = "$size" ] || failed write "the image ended after ${bytes:-0} of $size bytes"
  sync
  write_cs=$(($(now) - start))
  log "wrote $bytes bytes in $(seconds "$write_cs") s; verifying"

  phase=verify
  start=$(now)
  anvil-agent-io sha256 "$device" "$size" > /tmp/verify.out 2> /tmp/verify.err &
  pids=$!
  watch verify "$pids" rchar
  wait "$pids" || failed verify "$(tail -n1 /tmp/verify.err)"
  pids=
  verify_cs=$(($(now) - start))
  got="$(cat /tmp/verify.out)"
  [ "$got" = "$sha" ] || failed verify "sha256 of $size bytes of $device is $got, the image's is $sha"
  log "verified in $(seconds "$verify_cs") s: sha256 $got"
  login="$(login_files /tmp/deploy.answer)"
  log "currentimage.txt: $login"
  status=ok
  result status=ok phase=done "sha256=$got" "bytes=$bytes" "write_seconds=$(seconds "$write_cs")" "verify_seconds=$(seconds "$verify_cs")" "currentimage=$login"
}

# ---- capture ----

# Reads the device, checksums (XXH64) and compresses it and uploads it, all in anvil-agent-io
# capture. anvil's answer to the upload carries the XXH64 (and the SHA-256 it keeps for the image)
# of what it decompressed; the agent compares and reports its own XXH64 in the result, which anvil
# compares again before the image appears. (An agent before XXH64 reported sha256=; anvil still
# takes that.)
capture() {
  device="$(get device)" size="$(get size)" url="$(get upload_url)"
  interval="$(number_or "$(get progress_interval)" "$DEFAULT_INTERVAL")"
  phase=read bytes=0
  [ -b "$device" ] || failed read "$device is not a block device"
  case "$size" in '' | *[!0-9]*) failed read "bad capture size '$size'" ;; esac
  have="$(device_bytes "$device")"
  [ "$size" -le "$have" ] || failed read "capture of $size bytes is more than $device has ($have bytes)"
  log "capture: $size bytes of $device to $url"
  start=$(now)
  anvil-agent-io capture "$device" "$size" "$(numeric_url "$url")" > /tmp/capture.out 2> /tmp/capture.err &
  pids=$!
  watch read "$pids" rchar
  wait "$pids"; rc=$?
  pids=
  read_cs=$(($(now) - start))
  bytes="$(get capture.bytes /tmp/capture.out)"
  [ "$rc" = 3 ] && aborted "PUT $url" /tmp/capture.out /tmp/capture.err
  if [ "$rc" != 0 ]; then
    if grep -q "read $device" /tmp/capture.err; then failed read "$(tail -n1 /tmp/capture.err)"; fi
    failed upload "$(tail -n1 /tmp/capture.err)"
  fi
  ours="$(get capture.xxh64 /tmp/capture.out)" theirs="$(get xxh64 /tmp/capture.out)" sent="$(get capture.sent /tmp/capture.out)"
  log "read $bytes bytes in $(seconds "$read_cs") s, sent $sent bytes compressed"
  [ "$ours" = "$theirs" ] || failed upload "anvil's xxh64 of the upload is ${theirs:-missing}, the agent read $ours"
  status=ok
  result status=ok phase=done "xxh64=$ours" "bytes=$bytes" "sent=$sent" "read_seconds=$(seconds "$read_cs")"
}

# ---- main ----

log "anvil deploy agent, protocol $PROTOCOL, kernel $(uname -r)"
[ -n "$server" ] || { log "no anvil.server= on the kernel command line"; echo "ANVIL-AGENT-FAILED hello no anvil.server" > /dev/console; finish; }
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m" || log "insmod $m failed"; done
ip link set lo up
# The NIC appears asynchronously after virtio_net loads.
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /sys/class/net/eth0 ] || { log "no eth0"; echo "ANVIL-AGENT-FAILED hello no network interface" > /dev/console; finish; }
[ -n "$mac" ] || mac="$(cat /sys/class/net/eth0/address)"
ip link set eth0 up
until udhcpc -i eth0 -n -q -t 10 -T 2 -s /usr/share/udhcpc/default.script > /dev/null 2>&1; do
  log "no DHCP lease on eth0 ($mac) yet; asking again"
done
base="$(numeric_url "http://$server/agent/v1")"
log "lease $(cat /run/ip) on eth0 ($mac); anvil at $base"
start_ssh

tries=0 delay=1
while :; do
  hello_body > /tmp/hello
  if api hello /tmp/hello; then
    tries=0 delay=1
    action="$(get action)"
    case "$action" in
      deploy) deploy ;;
      capture) capture ;;
      wait)
        retry="$(number_or "$(get retry)" "$DEFAULT_RETRY")"
        log "anvil says wait $retry s"
        sleep "$retry"
        continue
        ;;
      stop)
        log "anvil says stop: $(get message)"
        echo "ANVIL-AGENT-STOPPED $(get message)" > /dev/console
        finish
        ;;
      *) failed hello "anvil answered hello with action '$action', which this agent does not know" ;;
    esac
  fi
  tries=$((tries + 1))
  if [ "$tries" -ge "$HELLO_TRIES" ]; then
    log "anvil at $server did not answer hello after $tries tries: $(tail -n1 /tmp/api.err)"
    echo "ANVIL-AGENT-FAILED hello no answer from $server" > /dev/console
    finish
  fi
  log "hello failed ($(tail -n1 /tmp/api.err)); again in $delay s"
  sleep "$delay"
  delay=$((delay * 2))
done
