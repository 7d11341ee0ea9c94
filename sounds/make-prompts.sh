#!/bin/sh
# sounds/make-prompts.sh - predial's prompts, spoken by espeak-ng and made telephone-ready by
# sox (Debian: apt-get install espeak-ng sox). Writes sounds/en/*.wav and sounds/ru/*.wav:
# 8 kHz, mono, 16-bit PCM, peaks at -3 dBFS. Re-run it after changing a text; the WAVs are
# committed so nobody else needs espeak-ng.
#
#   COMPANY_EN="Red Shop" COMPANY_RU="Красный магазин" sounds/make-prompts.sh
#
# The abandoned-call message is: abandoned + company + call-us + the callback number (said
# from the number prompts by predial, so changing the number needs no new recording).
set -eu
cd "$(dirname "$0")"
command -v espeak-ng >/dev/null || { echo "make-prompts: espeak-ng missing (apt-get install espeak-ng)" >&2; exit 1; }
command -v sox >/dev/null || { echo "make-prompts: sox missing (apt-get install sox)" >&2; exit 1; }
COMPANY_EN=${COMPANY_EN:-"your online shop"}
COMPANY_RU=${COMPANY_RU:-"ваш интернет-магазин"}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# say LANG NAME TEXT
say() {
  mkdir -p "$1"
  case "$1" in
    en) voice=en-us+f3 ;;
    ru) voice=ru+f3 ;;
  esac
  espeak-ng -v "$voice" -s 150 -w "$TMP/raw.wav" "$3"
  sox "$TMP/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1/$2.wav" gain -n -3
}

# --- English ---
say en abandoned "Sorry, all our operators are busy right now. We will call you back in a few minutes."
say en company "$COMPANY_EN"
say en call-us "You can also call us at"
say en hold "Please hold, an operator will answer shortly."
say en wait-about "Your call will be answered in about"
say en minute-1 "minute"
say en minute-2 "minutes"
say en minute-5 "minutes"
say en promo "Did you know? Orders over fifty dollars ship for free."
say en order "Your order number"
say en status-accepted "has been accepted."
say en status-shipped "has been shipped."
say en status-pickup "is waiting for you at the pickup point."
say en status-collected "has been collected. Thank you!"
say en status-unknown "could not be found. Please check the number."
say en goodbye "Thank you for calling. Goodbye."
say en position "You are number"
say en in-line "in line."
say en press-1-callback "All our operators are still busy. To be called back, press 1."
say en callback-promised "Thank you. We will call you back shortly. Goodbye."
say en press-0 "To talk to an operator, press 0."
say en closed "We are closed now. We will call you back during working hours. Goodbye."
say en pickup-reminder "Hello! Your order is waiting for you at the pickup point number"
say en pickup-until "It will be kept until the"
say en pickup-end "Please collect it in time. Thank you!"
for t in 1:January 2:February 3:March 4:April 5:May 6:June 7:July 8:August 9:September \
  10:October 11:November 12:December; do
  say en "month-${t%%:*}" "of ${t#*:}"
done
n=0
for w in zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen \
  fifteen sixteen seventeen eighteen nineteen; do
  say en "n$n" "$w"; n=$((n + 1))
done
for t in 2:twenty 3:thirty 4:forty 5:fifty 6:sixty 7:seventy 8:eighty 9:ninety; do
  say en "n${t%%:*}0" "${t#*:}"
done
say en hundred "hundred"
say en thousand "thousand"

# --- Russian ---
say ru abandoned "Извините, все операторы сейчас заняты. Мы перезвоним вам в течение нескольких минут."
say ru company "$COMPANY_RU"
say ru call-us "Вы также можете позвонить нам по номеру"
say ru hold "Пожалуйста, оставайтесь на линии, оператор скоро ответит."
say ru wait-about "Ваш звонок будет принят примерно через"
say ru minute-1 "минуту"
say ru minute-2 "минуты"
say ru minute-5 "минут"
say ru promo "А вы знаете, что при заказе от трёх тысяч рублей доставка бесплатная?"
say ru order "Ваш заказ номер"
say ru status-accepted "принят."
say ru status-shipped "отправлен."
say ru status-pickup "ждёт вас в пункте выдачи."
say ru status-collected "получен. Спасибо за покупку!"
say ru status-unknown "не найден. Пожалуйста, проверьте номер."
say ru goodbye "Спасибо за звонок. До свидания."
say ru position "Ваш номер в очереди"
say ru press-1-callback "Все операторы по-прежнему заняты. Чтобы мы вам перезвонили, нажмите 1."
say ru callback-promised "Спасибо. Мы скоро вам перезвоним. До свидания."
say ru press-0 "Чтобы поговорить с оператором, нажмите 0."
say ru closed "Сейчас мы не работаем. Мы перезвоним вам в рабочее время. До свидания."
say ru pickup-reminder "Здравствуйте! Ваш заказ ждёт вас в пункте выдачи номер"
say ru pickup-until "Он хранится до"
say ru pickup-end "Пожалуйста, заберите его вовремя. Спасибо!"
for t in 1:января 2:февраля 3:марта 4:апреля 5:мая 6:июня 7:июля 8:августа 9:сентября \
  10:октября 11:ноября 12:декабря; do
  say ru "month-${t%%:*}" "${t#*:}"
done
n=0
for w in ноль один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать \
  тринадцать четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать; do
  say ru "n$n" "$w"; n=$((n + 1))
done
for t in 2:двадцать 3:тридцать 4:сорок 5:пятьдесят 6:шестьдесят 7:семьдесят 8:восемьдесят 9:девяносто; do
  say ru "n${t%%:*}0" "${t#*:}"
done
for t in 1:сто 2:двести 3:триста 4:четыреста 5:пятьсот 6:шестьсот 7:семьсот 8:восемьсот 9:девятьсот; do
  say ru "n${t%%:*}00" "${t#*:}"
done
say ru n1f "одна"
say ru n2f "две"
say ru thousand-1 "тысяча"
say ru thousand-2 "тысячи"
say ru thousand-5 "тысяч"

# Hold music: a slow progression of soft chords, 16 s, looped by the player.
mkdir -p music
sox -n -r 8000 -c 1 -b 16 "$TMP/c1.wav" synth 4 sine 261.6 sine 329.6 sine 392.0 remix - fade 0.3 4 0.5 gain -n -12
sox -n -r 8000 -c 1 -b 16 "$TMP/c2.wav" synth 4 sine 220.0 sine 261.6 sine 329.6 remix - fade 0.3 4 0.5 gain -n -12
sox -n -r 8000 -c 1 -b 16 "$TMP/c3.wav" synth 4 sine 174.6 sine 220.0 sine 261.6 remix - fade 0.3 4 0.5 gain -n -12
sox -n -r 8000 -c 1 -b 16 "$TMP/c4.wav" synth 4 sine 196.0 sine 246.9 sine 293.7 remix - fade 0.3 4 0.5 gain -n -12
sox "$TMP/c1.wav" "$TMP/c2.wav" "$TMP/c3.wav" "$TMP/c4.wav" music/hold.wav

echo "make-prompts: $(ls en | wc -l) English and $(ls ru | wc -l) Russian prompts, music/hold.wav"
