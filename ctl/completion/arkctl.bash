# bash completion for arkctl(1)                                  -*- shell-script -*-
#
# Completes nouns, verbs, options, -o values, file names for --image/--kernel/--initrd, and the
# names of tenants and VMs by asking arkd (`arkctl --no-legend tenant list`, whose rows begin with
# the name). Self-contained: works with or without the bash-completion package.

_arkctl_names() {
    # $1: the noun whose names to list (tenant or vm), through the same bus as the command line:
    # its --bus-address, else $ARK_BUS_ADDRESS, else the system bus. No arkd: no names.
    local -a bus=()
    [ -n "$_arkctl_bus" ] && bus=(--bus-address "$_arkctl_bus")
    "${COMP_WORDS[0]}" "${bus[@]}" --no-legend "$1" list 2>/dev/null | cut -d' ' -f1
}

_arkctl_accelerators() {
    # The accelerators' PCI addresses (not their group members, which are indented).
    local -a bus=()
    [ -n "$_arkctl_bus" ] && bus=(--bus-address "$_arkctl_bus")
    "${COMP_WORDS[0]}" "${bus[@]}" --no-legend host accelerators 2>/dev/null |
        grep -o '^[0-9a-f]\{4\}:[0-9a-f:.]*'
}

_arkctl_join_words() {
    # bash splits words at COMP_WORDBREAKS too, so "unix:path=/x" and "--output=json" arrive in
    # pieces. Join the pieces not separated by blanks in COMP_LINE: sets _arkctl_words (up to and
    # including the current word).
    local line=${COMP_LINE:0:COMP_POINT} i w pos=0 start
    _arkctl_words=()
    for ((i = 0; i <= COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        start=$pos
        while [[ "${line:pos:1}" == [[:blank:]] ]]; do ((pos++)); done
        if ((i > 0 && pos == start && ${#_arkctl_words[@]} > 0)); then
            _arkctl_words[${#_arkctl_words[@]} - 1]+=$w
        else
            _arkctl_words+=("$w")
        fi
        ((pos += ${#w}))
    done
}

_arkctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} word prev= opt= i w n
    local -a pos=() _arkctl_words=()
    local _arkctl_bus=
    local nouns="status reconcile host accelerator tenant vm usage audit help"
    local global="-o --output --no-legend --bus-address -h --help --version"
    local takes_value=" -o --output --bus-address --description --tenant --vcpus --memory --disk --image --kernel --initrd --cmdline --timeout --gpus --gpu-model --gpu --reason --user --group "

    _arkctl_join_words
    n=${#_arkctl_words[@]}
    word=${_arkctl_words[n - 1]}
    ((n > 1)) && prev=${_arkctl_words[n - 2]}
    # Completing right after "--output=": bash's current piece is the "=" itself.
    [[ "$cur" == "=" ]] && cur=

    if [[ "$word" == --*=* ]]; then
        opt=${word%%=*}
    elif [[ "$takes_value" == *" $prev "* ]]; then
        opt=$prev
    fi

    # Positional words so far, skipping options and their values; remember --bus-address.
    for ((i = 1; i < n - 1; i++)); do
        w=${_arkctl_words[i]}
        if [ "$w" = "--" ]; then
            continue
        elif [[ "$w" == --bus-address=* ]]; then
            _arkctl_bus=${w#*=}
        elif [[ "$w" == -* ]]; then
            if [[ "$takes_value" == *" $w "* ]]; then
                ((i++))
                [ "$w" = "--bus-address" ] && _arkctl_bus=${_arkctl_words[i]}
            fi
        else
            pos+=("$w")
        fi
    done

    if [ -n "$opt" ]; then
        case "$opt" in
            -o|--output)
                COMPREPLY=($(compgen -W "table json" -- "$cur")) ;;
            --tenant)
                COMPREPLY=($(compgen -W "$(_arkctl_names tenant)" -- "$cur")) ;;
            --gpu)
                COMPREPLY=($(compgen -W "$(_arkctl_accelerators)" -- "$cur")) ;;
            --image|--kernel|--initrd)
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -- "$cur")) ;;
            *)
                COMPREPLY=() ;;
        esac
        return 0
    fi

    local noun=${pos[0]} verb=${pos[1]} verbs= options=
    case "$noun" in
        host) verbs="show accelerators check" ;;
        accelerator) verbs="reserve quarantine release" ;;
        tenant) verbs="create list show delete member quota" ;;
        vm) verbs="create list show start stop delete gpu" ;;
        audit) verbs="list verify export" ;;
        usage) verbs="report" ;;
    esac
    case "$noun $verb" in
        "tenant create") options="--description" ;;
        "tenant member") options="--user --group" ;;
        "vm create") options="--tenant --vcpus --memory --disk --image --kernel --initrd --cmdline --gpus --gpu-model --gpu --start" ;;
        "vm list") options="--tenant" ;;
        "usage report") options="--tenant --from --to" ;;
        "accelerator reserve"|"accelerator quarantine") options="--reason" ;;
        "vm show") options="--xml" ;;
        "vm stop") options="--force --timeout" ;;
        "vm gpu") options="--gpus --gpu-model --gpu --all" ;;
    esac

    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$global $options" -- "$cur"))
        return 0
    fi

    case ${#pos[@]} in
        0)
            COMPREPLY=($(compgen -W "$nouns" -- "$cur")) ;;
        1)
            COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
        2)
            case "$noun $verb" in
                "tenant show"|"tenant delete")
                    COMPREPLY=($(compgen -W "$(_arkctl_names tenant)" -- "$cur")) ;;
                "host check"|"accelerator reserve"|"accelerator quarantine"|"accelerator release")
                    COMPREPLY=($(compgen -W "$(_arkctl_accelerators)" -- "$cur")) ;;
                "vm show"|"vm start"|"vm stop"|"vm delete")
                    COMPREPLY=($(compgen -W "$(_arkctl_names vm)" -- "$cur")) ;;
                "vm gpu")
                    COMPREPLY=($(compgen -W "add remove" -- "$cur")) ;;
                "tenant member")
                    COMPREPLY=($(compgen -W "add remove list" -- "$cur")) ;;
                "tenant quota")
                    COMPREPLY=($(compgen -W "set show" -- "$cur")) ;;
            esac ;;
        3)
            [ "$noun $verb" = "vm gpu" ] && COMPREPLY=($(compgen -W "$(_arkctl_names vm)" -- "$cur"))
            case "$noun $verb" in
                "tenant member"|"tenant quota")
                    COMPREPLY=($(compgen -W "$(_arkctl_names tenant)" -- "$cur")) ;;
            esac ;;
        *)
            [ "$noun $verb" = "tenant quota" ] &&
                COMPREPLY=($(compgen -W "gpus= gpu-memory= vcpus= memory= disk= instances=" -- "$cur")) ;;
    esac
    return 0
}

complete -F _arkctl arkctl
