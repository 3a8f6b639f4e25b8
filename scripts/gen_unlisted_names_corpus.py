#!/usr/bin/env python3
"""Generates server/tests/data/unlisted_names_corpus.jsonl: incident narratives in the style of
the AWSD and of field flash reports, naming victims, drivers, officials and commanders that no
annex lists, with the controls that must survive (places, organisations, ordinary capitalised
words, dates, amounts).

Half of the names are drawn from the detector's own name lists, half from a held-out set of
names none of whose parts is in those lists, so the test can report recall on names the
detector has never seen. Deterministic (fixed seed). Run from the project root:

    python3 scripts/gen_unlisted_names_corpus.py
"""
import json
import random
import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "server/src/anonymise/data"
OUT = ROOT / "server/tests/data/unlisted_names_corpus.jsonl"
NARRATIVES = 400


def fold(word):
    word = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in word if not unicodedata.combining(c))


def words(path):
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.update(fold(w) for w in line.split())
    return out


def lines(path):
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.add(" ".join(fold(line).split()))
    return out


DETECTOR_NAMES = words(DATA / "given_names.txt") | words(DATA / "family_names.txt") | words(DATA / "ambiguous_names.txt")
AMBIGUOUS = words(DATA / "ambiguous_names.txt")
ALLOWED = lines(DATA / "places_awsd.txt") | lines(DATA / "places_extra.txt") | lines(DATA / "organisations.txt")

# Names from the detector's lists (unambiguous ones), by region: (given names, family names).
LISTED = {
    "AF": ("Ahmad Gulalai Najibullah Shakila Hekmat Zarghona Rahmatullah Fereshta Samiullah Nilofar",
           "Karimi Stanikzai Ahmadzai Rahimi Sultani Habibi Hashimi Karzai Amiri Jalali"),
    "SO": ("Abdirahman Hodan Abdullahi Faadumo Mahad Ifrah Guled Sagal Abdikadir Nasra",
           "Warsame Dirie Elmi Samatar Hirsi Abdille Dualeh Mohallim Galaal Hersi"),
    "SS": ("Achol Garang Nyandeng Majok Ayen Gatluak Nyaruot Kuol Akech Lual",
           "Makuei Aguer Malual Mayen Gatkuoth Lemi Mading Nyuon Lokuda Kiir"),
    "SD": ("Hanan Babiker Suad Ishag Mukhtar Suad Elamin Rabab Abdelmoneim Haroun",
           "Elhassan Elsheikh Bakheet Abdelrahman Osman Ibrahim Idris Hamdan Mansour Khalil"),
    "SY": ("Yazan Rasha Ghassan Dalia Firas Lubna Bassam Marwa Haitham Rania",
           "Haddad Al-Khatib Barakat Darwish Hijazi Al-Zoubi Kanaan Shaheen Nassar Sabbagh"),
    "YE": ("Fatima Waleed Abdulkarim Samira Hisham Nabil Rima Zakaria Ammar Ashraf",
           "Al-Hakimi Al-Maqtari Shamsan Nasher Qaid Hizam Mohsen Al-Awlaki Saeed Al-Ahmar"),
    "NG": ("Hauwa Abubakar Falmata Babagana Kaltume Tijjani Hadiza Salisu Zuwaira Kabiru",
           "Danjuma Shettima Monguno Bukar Kachalla Zulum Shuaibu Dankano Gambo Aliyu"),
    "ML": ("Aissata Mamadou Fatoumata Boubacar Kadiatou Sekou Oumou Modibo Djeneba Yacouba",
           "Traore Coulibaly Maiga Diarra Dembele Sangare Sidibe Guindo Tembely Konate"),
    "CD": ("Kavira Mumbere Masika Paluku Kahindo Kasereka Dieudonne Odette Faustin Josiane",
           "Katembo Kambale Mbuyi Tshimanga Mukendi Ilunga Kalonji Mpiana Lukusa Nsengiyumva"),
    "ET": ("Tsehay Dawit Lemlem Mulugeta Hiwot Tewodros Meseret Kahsay Mihret Tesfaye",
           "Gebremedhin Tessema Hailemariam Woldemariam Gebreyesus Mekonnen Abera Tolera Assefa Alemu"),
    "KE": ("Wanjiru Otieno Achieng Kiprop Nyambura Odhiambo Wambui Cheruiyot Zawadi Njoroge",
           "Kamau Mwangi Ochieng Kiplagat Onyango Wanjala Rotich Mbugua Wambua Owino"),
    "PK": ("Shazia Imran Rukhsana Junaid Mehwish Kashif Fauzia Naveed Sobia Rizwan",
           "Qureshi Chaudhry Yousafzai Siddiqui Bukhari Gillani Soomro Jatoi Abbasi Bhatti"),
    "HT": ("Wilner Guerline Mackenson Wisline Jocelyn Roselaure Fritz Ketly Jude Nadege",
           "Dorvil Toussaint Estime Jeudy Exume Fleurant Celestin Augustin Dorval Cadet"),
}

# Held-out names: none of their parts may be in the detector's lists (checked below).
HELD_OUT = {
    "AF": ("Spogmai Lutfullah Tooryalai Wasiq Naseema Gulbadan Asmatullah Shugufa Ruhollah Mahjabin",
           "Tanai Mangalzai Sabawoon Kharoti Jaghori Hotakzai Dawlatkhel Momand Samkani Paiman"),
    "SO": ("Abshir Cawo Xamdi Ruqiyo Mahamed Sucaad Bashe Xaliimo Xirsi Caasho",
           "Dhoorre Goodax Afqarshe Ugaas Cagaweyne Dhuxul Gaabow Qoorsheel Bidaar Jilaow"),
    "SS": ("Mabiordit Achai Kuany Nyakim Ruot Abuk Makur Adut Gatwech Nyawech",
           "Thiang Ajak Anyieth Kuanyin Arop Madut Biar Chuol Wuol Majak"),
    "SD": ("Mawahib Elfatih Tagwa Mohanad Ikhlas Sidiq Awadia Almoiz Rayan Elnour",
           "Elbadawi Abushama Hamadneil Elmahdi Wagiealla Abugroon Eltayeb Kambal Dafalla Yagoub"),
    "SY": ("Nizarah Jumana Ruba Orwa Ghiath Tahani Louay Rawan Qutaiba Shaza",
           "Maarrawi Kousa Sukkar Tarabishi Jbeili Arnaout Zeidan Qabbani Hourani Sawaf"),
    "YE": ("Afnan Waddah Sumaya Basheer Arwa Nashwan Ghamdan Entisar Fuad Shatha",
           "Al-Sharjabi Al-Mikhlafi Al-Dhubhani Baras Al-Eryani Al-Absi Dammaj Al-Saqqaf Bamatraf Sharaf"),
    "NG": ("Yagana Bintu Kolomi Yerima Yakaka Mamman Fannami Tijjaniya Bulus Hassana",
           "Mshelia Kwajaffa Ndahi Dapchiwa Ngamdu Kolomiram Alkali Malgwi Bwala Kachallah"),
    "ML": ("Ouleymatou Bandiougou Hamadoun Kounandi Fadimata Bourama Nana-Aicha Mamoutou Niakale Siriman",
           "Ag-Ahmedou Tapily Niangaly Kassogue Sagara Ongoiba Djimde Karembe Poudiougou Yanogue"),
    "CD": ("Masumbuko Kambere Mwamini Kakule Mapendo Byamungu Sikuli Kasoki Muyisa Vahwere",
           "Kasikila Wasukundi Kighoma Mathe Syaghuswa Kahambu Musubao Vuhoyo Kavugho Ndungo"),
    "ET": ("Freweyni Gidey Letekidan Berihu Tirhas Mehari Abrehet Gebrekidan Kibrom Selamawit",
           "Weldegebriel Tsegay Hadush Gebrekirstos Asgedom Kiros Gidey-Kiros Araya Tekleweyni Negusse"),
    "KE": ("Kerubo Nyaboke Kwamboka Onsongo Moraa Nyakundi Kemunto Makori Bosibori Ombati",
           "Nyamweya Mogaka Omwenga Nyanchama Ondieki Morara Mokaya Mosoti Ogeto Oigara"),
    "PK": ("Gulnaz Zarteef Shamaila Taimoor Nargis Ibrar Sumbal Zeeshan Laiba Faizan",
           "Yousafkhel Marwat Gandapur Jadoon Swati Tanoli Bangash Wazirzada Khalilkhel Tareen"),
    "HT": ("Mirlande Wilfrid Sonise Jimmy-Lee Nerlande Frantzy Dieula Mirlene Fednel Wideline",
           "Casseus Pierrelus Gillot Bazile Louissaint Metellus Desrosiers Noncent Saintil Dorelien"),
}

# Countries, with places of the allow-list (must survive) and places no list knows (must survive,
# written with a place word near them, as reports do).
COUNTRIES = {
    "AF": ("Afghanistan", ["Kandahar", "Kunduz", "Lashkar Gah", "Jalalabad", "Herat", "Ghazni", "Spin Boldak", "Maidan Wardak"],
           ["Qalacha", "Sangtoda", "Dehnaw-e-Sufla", "Chaharbagh-e-Safa"]),
    "SO": ("Somalia", ["Mogadishu", "Baidoa", "Kismayo", "Beledweyne", "Afgooye", "Galkayo", "Jowhar", "Bosaso"],
           ["Daarusalaam-Yarey", "Buulo Qoryaale", "Ceel Xaaji", "Gololeyso"]),
    "SS": ("South Sudan", ["Juba", "Malakal", "Bentiu", "Bor", "Yei", "Pibor", "Rumbek", "Torit"],
           ["Panyagor", "Mathiang Nyal", "Lankien-Ajak", "Kuerenge"]),
    "SD": ("Sudan", ["El Fasher", "Nyala", "Geneina", "Zalingei", "Kadugli", "Tawila", "Kassala", "Omdurman"],
           ["Shangil Tobayat", "Um Dukhun-Sharg", "Kutum Gharb", "Dar Elsalam Wasat"]),
    "SY": ("Syria", ["Idlib", "Aleppo", "Sarmada", "Azaz", "Afrin", "Homs", "Daraa", "Raqqa"],
           ["Kafr Takharimo", "Deir Hassan", "Atmeh-Qibli", "Harbanoush"]),
    "YE": ("Yemen", ["Taiz", "Hodeidah", "Marib", "Aden", "Sanaa", "Hajjah", "Lahj", "Abyan"],
           ["Al-Mokha Sharq", "Jabal Habashi", "Khanfar-Wadi", "Mawiyah"]),
    "NG": ("Nigeria", ["Maiduguri", "Damboa", "Monguno", "Dikwa", "Gwoza", "Konduga", "Bama", "Ngala"],
           ["Ngamdu Kura", "Dalwa-Kura", "Jakana", "Auno"]),
    "ML": ("Mali", ["Mopti", "Gao", "Timbuktu", "Kidal", "Menaka", "Bandiagara", "Douentza", "Bankass"],
           ["Sokoura-Dogon", "Boni Kanda", "Hombori-Ouest", "Tessito"]),
    "CD": ("DR Congo", ["Goma", "Beni", "Butembo", "Rutshuru", "Bunia", "Uvira", "Masisi", "Djugu"],
           ["Kibirizi", "Kanyabayonga", "Mangina-Centre", "Lubero Cite"]),
    "ET": ("Ethiopia", ["Mekelle", "Shire", "Adigrat", "Axum", "Gondar", "Abi Adi", "Dessie", "Jijiga"],
           ["Hawzen-Tabia", "Samre Seharti", "Edaga Hamus", "Wukro Maray"]),
    "KE": ("Kenya", ["Dadaab", "Garissa", "Mandera", "Wajir", "Lamu", "Kakuma", "Ifo", "Hagadera"],
           ["Kotulo Kaskazini", "Elwak-Rhamu", "Liboi Mashariki", "Damajale"]),
    "PK": ("Pakistan", ["Peshawar", "Quetta", "Bannu", "Swat", "Bajaur", "Dera Ismail Khan", "Chaman", "Karachi"],
           ["Mirali Kalay", "Darazinda", "Tirah-Bagh", "Shewa Adda"]),
    "HT": ("Haiti", ["Port-au-Prince", "Croix-des-Bouquets", "Cite Soleil", "Martissant", "Carrefour", "Petion-Ville", "Artibonite", "Cap-Haitien"],
           ["Canaan Lilavois", "Marchand Dessalines", "Bon Repos", "Gressier"]),
}

ORGS = ["an INGO", "a national NGO", "a UN agency", "the ICRC", "MSF", "UNICEF", "WFP", "IOM",
        "the Norwegian Refugee Council", "Save the Children", "the Danish Refugee Council",
        "Islamic Relief", "World Vision", "Mercy Corps", "OCHA", "UNHCR", "the Red Crescent"]
ORG_CONTROLS = {"MSF", "UNICEF", "WFP", "IOM", "ICRC", "OCHA", "UNHCR", "Norwegian Refugee Council",
                "Save the Children", "Danish Refugee Council", "Islamic Relief", "World Vision",
                "Mercy Corps", "Red Crescent", "INGO", "NGO", "UN"}
ACTORS = {"AF": "the Taliban", "SO": "Al-Shabaab", "SS": "SPLA-IO", "SD": "the Rapid Support Forces",
          "SY": "Hayat Tahrir al-Sham", "YE": "the Houthis", "NG": "ISWAP", "ML": "JNIM",
          "CD": "the ADF", "ET": "the TDF", "KE": "Al-Shabaab", "PK": "the TTP", "HT": "the 400 Mawozo gang"}
ACTOR_CONTROLS = {"AF": "Taliban", "SO": "Al-Shabaab", "SS": "SPLA-IO", "SD": "Rapid Support Forces",
                  "SY": "Hayat Tahrir al-Sham", "YE": "Houthis", "NG": "ISWAP", "ML": "JNIM",
                  "CD": "ADF", "ET": "TDF", "KE": "Al-Shabaab", "PK": "TTP", "HT": "400 Mawozo"}
FACILITIES = {"AF": "Mirwais Regional Hospital", "SO": "Banadir Hospital", "SS": "Juba Teaching Hospital",
              "SD": "El Fasher South Hospital", "SY": "Bab al-Hawa Hospital", "YE": "Al-Thawra Hospital",
              "NG": "Umaru Shehu Hospital", "ML": "Sominé Dolo Hospital", "CD": "HEAL Africa Hospital",
              "ET": "Ayder Referral Hospital", "KE": "Garissa County Referral Hospital",
              "PK": "Lady Reading Hospital", "HT": "Bernard Mevs Hospital"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ROLES = ["driver", "guard", "nurse", "vaccinator", "logistician", "community mobiliser", "doctor",
         "programme officer", "storekeeper", "midwife", "engineer", "cashier"]
VERBS = ["abducted", "killed", "injured", "shot", "detained", "beaten", "wounded", "kidnapped"]
HONORIFICS = {"AF": ["Haji", "Mullah", "Mr", "Dr"], "SO": ["Sheikh", "Mr", "Dr"], "SS": ["Mr", "Commander"],
              "SD": ["Dr", "Mr", "Sheikh"], "SY": ["Dr", "Mr", "Eng."], "YE": ["Sheikh", "Dr", "Mr"],
              "NG": ["Alhaji", "Mallam", "Hajiya", "Mr"], "ML": ["M.", "Mme", "Dr"], "CD": ["M.", "Mme", "Dr"],
              "ET": ["Ato", "Dr", "Mr"], "KE": ["Mr", "Mrs", "Dr"], "PK": ["Mr", "Dr", "Haji"], "HT": ["M.", "Mme", "Dr"]}


def check_lists():
    for region, (given, family) in HELD_OUT.items():
        for name in (given + " " + family).split():
            for part in re.split(r"[-']", fold(name)):
                if part in ("al", "ag", "el"):
                    continue
                assert part not in DETECTOR_NAMES, f"held-out {name} ({part}) is in the detector lists"
                assert part not in ALLOWED, f"held-out {name} ({part}) is allow-listed"
    for region, (given, family) in LISTED.items():
        for name in (given + " " + family).split():
            assert fold(name) in DETECTOR_NAMES, f"listed {name} is not in the detector lists"
            assert fold(name) not in AMBIGUOUS, f"listed {name} is ambiguous"
    for region, (_, known, unknown) in COUNTRIES.items():
        for place in known:
            assert " ".join(fold(place).split()) in ALLOWED, f"{place} is not allow-listed"
        for place in unknown:
            assert " ".join(fold(place).split()) not in ALLOWED, f"{place} is allow-listed"


class Narrative:
    def __init__(self, rng, region):
        self.rng = rng
        self.region = region
        self.names = []
        self.controls = []
        self.parts = []

    def person(self, held_out):
        pool = HELD_OUT if held_out else LISTED
        given, family = (p.split() for p in pool[self.region])
        n_parts = self.rng.choice([2, 2, 2, 3, 1]) if self.region in ("SO", "SS", "SD", "NG") else self.rng.choice([2, 2, 2, 1])
        if n_parts == 1:
            name = self.rng.choice(given)
        elif n_parts == 2:
            name = f"{self.rng.choice(given)} {self.rng.choice(family)}"
        else:
            name = f"{self.rng.choice(given)} {self.rng.choice(given)} {self.rng.choice(family)}"
        if any(n["name"] == name for n in self.names):
            return self.person(held_out)
        self.names.append({"name": name, "held_out": held_out})
        return name

    def control(self, text):
        self.controls.append(text)
        return text


def date(rng):
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(2015, 2023)}"


def compose(rng, index):
    region = rng.choice(sorted(COUNTRIES))
    country, known, unknown = COUNTRIES[region]
    n = Narrative(rng, region)
    c = n.control
    held = index % 2 == 1
    role = rng.choice(ROLES)
    verb = rng.choice(VERBS)
    org = rng.choice(ORGS)
    place = rng.choice(known)
    village = rng.choice(unknown)
    sentences = []
    when = date(rng)
    c(when)
    org_name = re.sub(r"^(the|an|a) ", "", org)
    for word in [org_name] + org_name.split():
        if word in ORG_CONTROLS:
            c(word)
    c(place)
    style = rng.randrange(4)
    if style == 0:
        sentences.append(f"On {when}, {rng.randint(2, 9)} armed men stopped a vehicle of {org} near {place}.")
    elif style == 1:
        sentences.append(f"{place}, {country}: on {when} at {rng.randint(10, 23)}:{rng.choice(['00', '15', '30', '45'])}, a convoy of {org} was ambushed on the road to the village of {c(village)}.")
    elif style == 2:
        sentences.append(f"FLASH REPORT - {place}, {when}. Staff of {org} came under fire {rng.randint(3, 40)} km from {place}.")
    else:
        sentences.append(f"In the early hours of {c(rng.choice(DAYS))}, {when}, unknown gunmen raided the compound of {org} in {place}.")
    c(country) if style == 1 else None

    victim = n.person(held)
    first_mention = rng.randrange(11)
    if first_mention == 0:
        sentences.append(f"The {role}, {victim}, was {verb}.")
    elif first_mention == 1:
        sentences.append(f"{victim}, a national staff {role} with {org}, was {verb}.")
    elif first_mention == 2:
        sentences.append(f"A {role} named {victim} was {verb} and taken towards {c(village)} village.")
    elif first_mention == 3:
        sentences.append(f"{rng.choice(HONORIFICS[region])} {victim} ({rng.randint(22, 61)}) was {verb} while returning from {place}.")
    elif first_mention == 4:
        sentences.append(f"Among the victims was {role} {victim}.")
    elif first_mention == 5:
        sentences.append(f"{victim} was {verb} by {ACTORS[region]} on the main road.")
        c(ACTOR_CONTROLS[region])
    elif first_mention == 6:
        sentences.append(f"The family of {victim} received a call demanding USD {rng.randint(2, 90)},000.")
    elif first_mention == 7:
        sentences.append(f"His colleague {victim} managed to escape to {place}.")
    # Mentions with nothing around them that the detector has a rule for (a name in a list, or
    # two unknown capitalised words, is then all it has to go on).
    elif first_mention == 8:
        sentences.append(f"Colleagues drove {victim} back to {place} after the incident.")
    elif first_mention == 9:
        sentences.append(f"At the checkpoint {victim} was ordered out of the car and searched.")
    else:
        sentences.append(f"Nothing has been heard from {victim} since that evening.")

    if rng.random() < 0.6:
        official = n.person(held)
        kind = rng.randrange(5)
        if kind == 0:
            sentences.append(f"The district governor, {official}, condemned the attack.")
        elif kind == 1:
            sentences.append(f"A local official, {official}, said {ACTORS[region]} had set up a checkpoint the day before.")
            c(ACTOR_CONTROLS[region])
        elif kind == 2:
            sentences.append(f"Elders led by {rng.choice(HONORIFICS[region])} {official} negotiated with the abductors.")
        elif kind == 3:
            sentences.append(f"Commander {official} of {ACTORS[region]} denied any involvement.")
            c(ACTOR_CONTROLS[region])
        else:
            sentences.append(f"{official} and another guard witnessed the attack.")

    if rng.random() < 0.5:
        sentences.append(f"The injured were taken to {c(FACILITIES[region])} in {place}.")
    if rng.random() < 0.4:
        vehicle = rng.choice(["Toyota Land Cruiser", "Toyota Hilux", "Land Cruiser"])
        sentences.append(f"A {c(vehicle)} and {rng.randint(2, 5)} Thuraya phones were taken.")
        c("Thuraya")
    if rng.random() < 0.5:
        surname = victim.split()[-1]
        outcome = rng.choice(["was released", "was freed", "died of his wounds", "was evacuated"])
        sentences.append(f"{surname} {outcome} on {c(str(rng.randint(1, 28)) + ' ' + rng.choice(MONTHS))}.")
    if rng.random() < 0.4:
        other = rng.choice([p for p in known if p != place])
        sentences.append(f"Movements between {place} and {c(other)} were suspended during {c(rng.choice(['Ramadan', 'Eid al-Adha', 'the rainy season']))}.")
    if rng.random() < 0.3:
        sentences.append(f"{c('OCHA')} and {c('UNDSS')} were informed; {org} suspended activities in {country} for {rng.randint(2, 14)} days.")
        c(country)
    text = " ".join(sentences)
    controls = [x for x in n.controls if x not in ("the rainy season",)]
    # A control that shares a word with a name would be lost with it: the generator avoids it.
    name_words = {w for entry in n.names for w in entry["name"].split()}
    controls = [x for x in controls if not (set(x.split()) & name_words)]
    for x in controls:
        assert x in text, (x, text)
    return {"id": index, "region": region, "text": text, "names": n.names, "controls": controls}


def main():
    check_lists()
    rng = random.Random(18)
    with OUT.open("w", encoding="utf-8") as out:
        for index in range(NARRATIVES):
            out.write(json.dumps(compose(rng, index), ensure_ascii=False) + "\n")
    print(f"wrote {NARRATIVES} narratives to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
