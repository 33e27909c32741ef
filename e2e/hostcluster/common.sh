# e2e/hostcluster/common.sh: shared by up, down and status (sourced, bash).
# Sets hc_root/hc_here, resolves a STATE_DIR argument, and knows the
# components, their PID files (STATE_DIR/pids/<name>.pid) and how to tell
# that a PID is still the process we started.

hc_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hc_root=$(cd "$hc_here/../.." && pwd)
# Start order; stopped in reverse.
hc_components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
# A state folder made by `up` carries this file; down removes nothing else.
hc_marker=.vkube-hostcluster

# hc_state_dir [DIR]: prints the absolute state folder (default e2e/.state/host).
hc_state_dir() {
	local d=${1:-$hc_root/e2e/.state/host}
	case $d in /*) ;; *) d=$PWD/$d ;; esac
	# Normalise without requiring the folder to exist.
	d=$(realpath -m -- "$d")
	[[ $d != / ]] || { echo "refusing state folder /" >&2; return 1; }
	echo "$d"
}

# hc_pid STATE NAME: prints the PID of component NAME if it is alive and is
# the process `up` started for STATE (its command line names STATE);
# returns 1 otherwise. A stale PID reused by another process is not ours.
hc_pid() {
	local f=$1/pids/$2.pid pid
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
	[[ $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null) == *"$1/"* ]] || return 1
	# A zombie has exited already.
	[[ $(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null) != Z ]] || return 1
	echo "$pid"
}

# hc_stop STATE: TERM every running component (reverse order), wait up to
# 20s, then KILL what is left. Returns 1 if something survived.
hc_stop() {
	local st=$1 i name pid pids=()
	for ((i = ${#hc_components[@]} - 1; i >= 0; i--)); do
		name=${hc_components[i]}
		if pid=$(hc_pid "$st" "$name"); then
			echo "stopping $name (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	local end=$((SECONDS + 20)) alive
	while :; do
		alive=()
		for pid in "${pids[@]}"; do
			[[ -d /proc/$pid && $(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null) != Z ]] && alive+=("$pid")
		done
		((${#alive[@]} == 0)) && return 0
		((SECONDS >= end)) && break
		sleep 0.2
	done
	for pid in "${alive[@]}"; do
		echo "killing pid $pid (did not stop on TERM)"
		kill -KILL "$pid" 2>/dev/null || true
	done
	# A killed process with much memory takes a while to go on a loaded machine.
	end=$((SECONDS + 15))
	while :; do
		local left=0
		for pid in "${alive[@]}"; do
			[[ -d /proc/$pid && $(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null) != Z ]] && left=1
		done
		((left == 0)) && return 0
		((SECONDS >= end)) && return 1
		sleep 0.2
	done
}
