#!/usr/bin/env python3
"""Builds core/data/tz-ru-mobile.tsv: the time zone of Russian mobile numbers (+7 9xx) by the
region their number range is assigned to in the national numbering registry.

Input: the registry compiled as JSON by the ru-phone-base project (github.com/DimmKG/ru-phone-base,
file src/data/mobile.json, built from the Ministry of Digital Development's open-data registry
DEF-9xx.csv). Its shape:
  {"o": [operators...], "r": [[region slug, ...], ...], "p": [places...],
   "c": {"900": [[from, to, operator, region(, place)], ...], ...}}
where from/to are the 7 subscriber digits after the DEF code.

Output: the shortest set of prefixes that gives every assigned number its region's zone. Numbers
of ranges assigned to all of Russia (MVNOs, the ministry) and unassigned ones get no row: the
scheduler then uses the campaign's zone. Ported numbers keep their range's region (numbers are
ported within a region), so the region is the subscriber's home region.

Usage: python3 core/data/make-ru-mobile.py mobile.json [--out core/data/tz-ru-mobile.tsv]
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Federal subjects (the registry's region slugs) to IANA zones (tzdata 2025b). Russia keeps no
# DST, so the zone gives the same offset all year.
ZONES = {
    "Europe/Kaliningrad": ["kaliningrad-oblast"],
    "Europe/Moscow": [
        "adygea", "arkhangelsk-oblast", "belgorod-oblast", "bryansk-oblast", "chechnya", "chuvashia",
        "dagestan", "ingushetia", "ivanovo-oblast", "kabardino-balkaria", "kalmykia", "kaluga-oblast",
        "karachay-cherkessia", "karelia", "komi", "kostroma-oblast", "krasnodar-krai", "kursk-oblast",
        "leningrad-oblast", "lipetsk-oblast", "mari-el", "mordovia", "moscow", "moscow-oblast",
        "murmansk-oblast", "nenets-ao", "nizhny-novgorod-oblast", "north-ossetia-alania",
        "novgorod-oblast", "oryol-oblast", "penza-oblast", "pskov-oblast", "rostov-oblast",
        "ryazan-oblast", "saint-petersburg", "smolensk-oblast", "stavropol-krai", "tambov-oblast",
        "tatarstan", "tula-oblast", "tver-oblast", "vladimir-oblast", "vologda-oblast",
        "voronezh-oblast", "yaroslavl-oblast",
        # Occupied areas numbered in +7: clocks on Moscow time (IANA has no zone for them).
        "donetsk-pr", "luhansk-pr", "zaporizhzhia-oblast", "kherson-oblast",
    ],
    "Europe/Kirov": ["kirov-oblast"],
    "Europe/Volgograd": ["volgograd-oblast"],
    "Europe/Simferopol": ["crimea", "sevastopol"],
    "Europe/Samara": ["samara-oblast", "udmurtia"],
    "Europe/Ulyanovsk": ["ulyanovsk-oblast"],
    "Europe/Saratov": ["saratov-oblast"],
    "Europe/Astrakhan": ["astrakhan-oblast"],
    "Asia/Yekaterinburg": [
        "bashkortostan", "chelyabinsk-oblast", "khanty-mansi-ao", "kurgan-oblast", "orenburg-oblast",
        "perm-krai", "sverdlovsk-oblast", "tyumen-oblast", "yamalo-nenets-ao",
    ],
    "Asia/Omsk": ["omsk-oblast"],
    "Asia/Novosibirsk": ["novosibirsk-oblast"],
    "Asia/Barnaul": ["altai-krai", "altai-republic"],
    "Asia/Tomsk": ["tomsk-oblast"],
    "Asia/Novokuznetsk": ["kemerovo-oblast"],
    "Asia/Krasnoyarsk": ["krasnoyarsk-krai", "khakassia", "tyva"],
    "Asia/Irkutsk": ["irkutsk-oblast", "buryatia"],
    "Asia/Chita": ["zabaykalsky-krai"],
    # Sakha spans three zones; its mobile ranges are assigned to the whole republic, so they get
    # Yakutsk time, where most of its people live.
    "Asia/Yakutsk": ["sakha", "amur-oblast"],
    "Asia/Vladivostok": ["primorsky-krai", "khabarovsk-krai", "jewish-ao"],
    "Asia/Sakhalin": ["sakhalin-oblast"],
    "Asia/Magadan": ["magadan-oblast"],
    "Asia/Kamchatka": ["kamchatka-krai"],
    "Asia/Anadyr": ["chukotka-ao"],
}
NATIONWIDE = {"all-russia"}

ZONE_OF = {slug: zone for zone, slugs in ZONES.items() for slug in slugs}


def region_zone(slugs):
    if any(s in NATIONWIDE for s in slugs):
        return None
    zones = set()
    for s in slugs:
        if s not in ZONE_OF:
            sys.exit(f"unknown region slug {s!r}: add it to ZONES")
        zones.add(ZONE_OF[s])
    return zones.pop() if len(zones) == 1 else None


AMBIGUOUS = "?"


def prefixes(ranges, lo=0, width=10_000_000, digits=""):
    """Yields (digits, zone) for the shortest prefixes whose assigned numbers share one zone.

    `ranges` are (from, to, zone) sorted and not overlapping, inside [lo, lo + width)."""
    zones = {z for _, _, z in ranges}
    if not zones:
        return
    if len(zones) == 1:
        zone = zones.pop()
        if zone != AMBIGUOUS:
            yield digits, zone
        return
    step = width // 10
    for d in range(10):
        a, b = lo + d * step, lo + (d + 1) * step - 1
        inner = [(max(f, a), min(t, b), z) for f, t, z in ranges if f <= b and t >= a]
        yield from prefixes(inner, a, step, digits + str(d))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mobile_json")
    ap.add_argument("--out", default=os.path.join(HERE, "tz-ru-mobile.tsv"))
    args = ap.parse_args()
    with open(args.mobile_json, encoding="utf-8") as f:
        data = json.load(f)
    regions = [region_zone(r) for r in data["r"]]
    rows = []
    total = 0
    for code in sorted(data["c"]):
        ranges = []
        for r in data["c"][code]:
            start, end, region = r[0], r[1], r[3]
            if not (0 <= start <= end <= 9_999_999):
                sys.exit(f"DEF {code}: bad range {r}")
            if ranges and start <= ranges[-1][1]:
                sys.exit(f"DEF {code}: range {r} overlaps the one before")
            zone = regions[region] or AMBIGUOUS
            ranges.append((start, end, zone))
            total += 1
        rows.extend((f"7{code}{digits}", zone) for digits, zone in prefixes(ranges))
    with open(args.out, "w", encoding="utf-8") as out:
        out.write("# Russian mobile numbers (+7 9xx) by the home region of their range in the national numbering\n")
        out.write("# registry (DEF-9xx, open data of the Ministry of Digital Development), as compiled by\n")
        out.write("# github.com/DimmKG/ru-phone-base (src/data/mobile.json, data of 2026-08-21).\n")
        out.write("# Generated by make-ru-mobile.py; ranges assigned to all of Russia have no row.\n")
        for prefix, zone in rows:
            out.write(f"{prefix}\t{zone}\n")
    print(f"{total} registry ranges -> {len(rows)} prefixes in {args.out}")


if __name__ == "__main__":
    main()
