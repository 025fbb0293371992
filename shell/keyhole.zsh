# keyhole shell integration for zsh. In ~/.zshrc (after compinit, for the completions):
#   eval "$(keyhole shell-init zsh)"
# (`keyhole shell-init zsh` prints this file after a line naming its own binary; sourcing the installed copy
# works too, with `keyhole` from PATH.) It puts keyhole's wrapper directory first on PATH, defines a function for
# every wrapped command (`keyhole wrap --list`) that runs it through `keyhole run`, and loads the completions.

typeset -g __keyhole_bin=${__keyhole_bin:-keyhole}
typeset -ga __keyhole_functions

# The locations keyhole itself uses (an XDG variable that is not an absolute path is ignored, as the spec says).
case ${XDG_DATA_HOME-} in
    /*) typeset -g __keyhole_wrappers=$XDG_DATA_HOME/keyhole/bin ;;
    *) typeset -g __keyhole_wrappers=$HOME/.local/share/keyhole/bin ;;
esac
case ${XDG_CONFIG_HOME-} in
    /*) typeset -g __keyhole_list=$XDG_CONFIG_HOME/keyhole/wrapped ;;
    *) typeset -g __keyhole_list=$HOME/.config/keyhole/wrapped ;;
esac

# The wrapper directory first on PATH, exactly once (moved to the front if it is already there).
path=("$__keyhole_wrappers" "${(@)path:#$__keyhole_wrappers}")
export PATH

# Runs a wrapped command through `keyhole run`; inside a session already (KEYHOLE_SESSION set), directly.
function __keyhole_run {
    if [[ -n ${KEYHOLE_SESSION-} ]]; then
        command "$@"
    else
        command "$__keyhole_bin" run -- "$@"
    fi
}

# (Re)defines one function per name in the wrapped list, removing those of names no longer listed.
function __keyhole_load {
    emulate -L zsh
    local name
    for name in "${__keyhole_functions[@]}"; do
        unfunction "$name" 2>/dev/null
    done
    __keyhole_functions=()
    if [[ -r $__keyhole_list ]]; then
        while IFS= read -r name || [[ -n $name ]]; do
            case $name in
                '' | [-.\#]* | *[^A-Za-z0-9._+-]*) continue ;;
            esac
            eval "function $name { __keyhole_run $name \"\$@\"; }" 2>/dev/null || continue
            __keyhole_functions+=("$name")
        done <"$__keyhole_list"
    fi
    rehash
}

# `keyhole wrap` and `keyhole unwrap` take effect in this shell at once.
function keyhole {
    command "$__keyhole_bin" "$@"
    local result=$?
    case ${1-} in
        wrap | unwrap) __keyhole_load ;;
    esac
    return $result
}

__keyhole_load

if [[ -o interactive ]] && (( $+functions[compdef] )); then
    # The generated script registers itself with compdef when it is evaluated.
    eval "$(command "$__keyhole_bin" --generate-completion-script zsh 2>/dev/null)"
fi
