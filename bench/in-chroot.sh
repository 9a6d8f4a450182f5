# Sourced by the benchmarks that run in the chroots .ci/run makes ($chroots, default
# /var/tmp/brp-pyc-ci): in_chroot SUITE CMD... runs CMD there with the checkout ($checkout)
# bound at the same path, in a private mount namespace, as .ci/run's lanes do.
chroots=${CI_CHROOTS:-/var/tmp/brp-pyc-ci}
in_chroot() {
    local dir=$chroots/$1
    shift
    mkdir -p "$dir$checkout"
    unshare --mount --propagation private -- sh -c '
        dir=$1 checkout=$2; shift 2
        mount -t proc proc "$dir/proc" && mount --rbind /dev "$dir/dev" && mount --bind "$checkout" "$dir$checkout" || exit 1
        exec chroot "$dir" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LANG=C.UTF-8 TMPDIR=/tmp sh -c "cd \"\$0\" && exec \"\$@\"" "$checkout" "$@"
    ' sh "$dir" "$checkout" "$@"
}
