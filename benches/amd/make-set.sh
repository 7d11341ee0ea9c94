#!/bin/sh
# benches/amd/make-set.sh - the labelled answering-machine-detection set, made with espeak-ng
# and sox (Debian: apt-get install espeak-ng sox). Re-running it makes the same files.
#
# Each sample is what predial hears after a call is answered, as G.711 u-law WAV, 8 kHz:
#   human:   a short pause, a short answer ("Hello?", "Алло?", "Да, слушаю"), then the person
#            waits (silence), sometimes says it again;
#   machine: a pause, a voicemail greeting of several seconds, with or without the beep.
# Two languages (en, ru), several voices and speeds, and five noise levels (none, white noise
# at -55, -45, -40 and -35 dBFS: a quiet line to a street or a car). Some humans say more than
# a word ("Hello, Anna speaking"), some machines say little ("Leave a message" and the beep).
# Labels go to labels.tsv: file, label, language, noise.
set -eu
cd "$(dirname "$0")"
OUT=set
command -v espeak-ng >/dev/null || { echo "make-set: espeak-ng missing (apt-get install espeak-ng)" >&2; exit 1; }
command -v sox >/dev/null || { echo "make-set: sox missing (apt-get install sox)" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf 'file\tlabel\tlanguage\tnoise\n' > labels.tsv

# speak VOICE SPEED TEXT OUT: 8 kHz mono 16-bit speech, -3 dBFS peak.
speak() {
  espeak-ng -v "$1" -s "$2" -w "$TMP/raw.wav" "$3"
  sox "$TMP/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$4" gain -n -3
}

# finish IN NOISE OUT: add white noise at NOISE dBFS (or none), then G.711 u-law.
finish() {
  if [ "$2" = none ]; then
    sox "$1" -e u-law "$3"
  else
    len=$(soxi -D "$1")
    sox -R -n -r 8000 -c 1 -b 16 "$TMP/noise.wav" synth "$len" whitenoise gain "$2"
    sox -m "$1" "$TMP/noise.wav" -e u-law "$3"
  fi
}

silence() { sox -n -r 8000 -c 1 -b 16 "$2" trim 0 "$1"; }
beep() { sox -n -r 8000 -c 1 -b 16 "$1" synth 0.6 sine 1000 gain -8; }

n=0
NOISES="none -55 -45 -40 -35"
# human LANG VOICE SPEED PAUSE TEXT [REPEAT]
human() {
  speak "$2" "$3" "$5" "$TMP/say.wav"
  silence "$4" "$TMP/pre.wav"
  silence 1.5 "$TMP/wait.wav"
  if [ "${6:-}" = again ]; then
    silence 1.2 "$TMP/gap.wav"
    sox "$TMP/pre.wav" "$TMP/say.wav" "$TMP/gap.wav" "$TMP/say.wav" "$TMP/wait.wav" "$TMP/clean.wav"
  else
    sox "$TMP/pre.wav" "$TMP/say.wav" "$TMP/wait.wav" "$TMP/clean.wav"
  fi
  for noise in $NOISES; do
    n=$((n + 1))
    f=$(printf 'h%03d-%s-%s.wav' "$n" "$1" "$(echo "$noise" | tr -d -)")
    finish "$TMP/clean.wav" "$noise" "$OUT/$f"
    printf '%s\thuman\t%s\t%s\n' "$f" "$1" "$noise" >> labels.tsv
  done
}

# machine LANG VOICE SPEED PAUSE TEXT [beep]
machine() {
  speak "$2" "$3" "$5" "$TMP/say.wav"
  silence "$4" "$TMP/pre.wav"
  silence 0.4 "$TMP/gap.wav"
  silence 2.0 "$TMP/after.wav"
  if [ "${6:-}" = beep ]; then
    beep "$TMP/beep.wav"
    sox "$TMP/pre.wav" "$TMP/say.wav" "$TMP/gap.wav" "$TMP/beep.wav" "$TMP/after.wav" "$TMP/clean.wav"
  else
    sox "$TMP/pre.wav" "$TMP/say.wav" "$TMP/after.wav" "$TMP/clean.wav"
  fi
  # The detector decides within 5 s: keep 5.2 s.
  sox "$TMP/clean.wav" "$TMP/cut.wav" trim 0 5.2
  for noise in $NOISES; do
    n=$((n + 1))
    f=$(printf 'm%03d-%s-%s.wav' "$n" "$1" "$(echo "$noise" | tr -d -)")
    finish "$TMP/cut.wav" "$noise" "$OUT/$f"
    printf '%s\tmachine\t%s\t%s\n' "$f" "$1" "$noise" >> labels.tsv
  done
}

human en en-us 160 0.4 "Hello?"
human en en-gb+f3 150 0.8 "Hi."
human en en-us+m3 170 0.3 "Yes?"
human en en-gb+m1 140 1.0 "Hello, yes?"
human en en-us+f2 160 0.6 "Speaking."
human en en-us+f4 175 0.5 "Yeah, hello?" again
human en en-gb 150 0.2 "Hello?" again
human en en-us+m5 155 0.9 "Who is this?"
human ru ru 150 0.4 "Алло?"
human ru ru+f3 160 0.7 "Да?"
human ru ru+m3 140 0.3 "Слушаю."
human ru ru+f2 150 1.0 "Алло, да."
human ru ru+m1 170 0.5 "Да, слушаю." again
human ru ru+f4 155 0.6 "Алло?" again
human ru ru+m5 145 0.2 "Кто это?"
human ru ru 165 0.8 "Да, алло."
human en en-us+f3 165 0.5 "Hello, Anna speaking."
human en en-gb+m3 150 0.7 "Hi, who is calling?"
human ru ru+f3 150 0.5 "Алло, слушаю вас."
human ru ru+m3 160 0.6 "Да, Иван, слушаю."

machine en en-us 160 0.5 "Hi, you have reached the voicemail of John Smith. I can not take your call right now. Please leave a message after the tone." beep
machine en en-gb+f3 150 0.8 "The person you are calling is not available. Please leave your message after the beep." beep
machine en en-us+m3 175 0.3 "Hello! You have reached five five five, one two three four. Leave a message and we will call you back."
machine en en-gb+m1 145 1.2 "Thank you for calling. Our office is closed now. Please call again during business hours."
machine en en-us+f2 165 0.6 "Hey, it is Anna. Leave me a message." beep
machine en en-us+f4 155 0.4 "You have reached the mailbox of extension two hundred. Please record your message after the tone."
machine en en-gb 170 0.9 "Hello, this is Mike. Sorry I missed you, leave a message." beep
machine en en-us+m5 150 0.5 "Welcome to the voice messaging system. The subscriber is not available."
machine ru ru 150 0.5 "Здравствуйте, вы позвонили Ивану. Я не могу сейчас ответить. Оставьте сообщение после сигнала." beep
machine ru ru+f3 160 0.8 "Абонент не может ответить на ваш звонок. Пожалуйста, оставьте сообщение после звукового сигнала." beep
machine ru ru+m3 145 0.3 "Вас приветствует голосовая почта. Абонент временно недоступен."
machine ru ru+f2 170 1.1 "Добрый день! Вы позвонили в магазин. Сейчас все операторы заняты, перезвоните позже."
machine ru ru+m1 155 0.6 "Привет, это Сергей. Оставь сообщение, я перезвоню." beep
machine ru ru+f4 150 0.4 "Аппарат абонента выключен или находится вне зоны действия сети."
machine ru ru+m5 165 0.9 "Здравствуйте! Вы позвонили в компанию. Пожалуйста, оставьте сообщение после сигнала." beep
machine ru ru 140 0.5 "Номер, который вы набрали, временно не обслуживается. Попробуйте позвонить позже."
machine en en-us+m1 170 0.4 "Leave a message." beep
machine en en-gb+f2 160 0.6 "Hi, it is me, talk after the beep." beep
machine ru ru+m2 165 0.4 "Оставьте сообщение." beep
machine ru ru+f1 160 0.7 "Говорите после сигнала." beep

echo "make-set: $n samples in $(pwd)/$OUT, labels in labels.tsv"
