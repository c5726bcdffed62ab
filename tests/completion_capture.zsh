# zsh -f completion_capture.zsh DIR 'WORDS...': the completions zsh offers at the end of
# WORDS, one a line, with DIR (holding _netkit) first in $fpath. An interactive zsh runs in
# a pseudo-terminal (zpty), the line is typed with a TAB, and compadd is wrapped to print
# each match between two NUL lines (after zsh-capture-completion by Valodim).
zmodload zsh/zpty
zpty z zsh -f -i
init=$(mktemp)
cat > $init <<INIT
PROMPT=
fpath=($1 \$fpath)
autoload -U compinit
compinit -u -D
bindkey '^I' complete-word
null-line() { echo -E - \$'\0' }
compprefuncs=(null-line)
comppostfuncs=(null-line exit)
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
zstyle ':completion:*' list-separator ''
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "\$@"
    return \$?
  fi
  typeset -a __hits
  builtin compadd -A __hits "\$@"
  local -A apre hpre
  zparseopts -E P:=apre p:=hpre
  local h
  for h in \$__hits; do echo -E - "MATCH:\$IPREFIX\${apre[-P]}\${hpre[-p]}\$h"; done
}
echo ok
INIT
zpty -w z "source $init"
local line
repeat 10; do
  zpty -r z line
  [[ $line == ok* ]] && break
done
shift
zpty -w z "$*"$'\t'
integer tog=0
while zpty -r z line; do
  if [[ $line == *$'\0'* ]]; then
    (( tog++ )) && break || continue
  fi
  (( tog )) && [[ $line == MATCH:* ]] && print -r -- ${${line#MATCH:}%$'\r'}
done
rm -f $init
