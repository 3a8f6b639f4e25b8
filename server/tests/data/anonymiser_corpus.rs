//! A deterministic generator of security-incident narratives with planted personal data, for
//! the anonymiser's corpus test.
//!
//! Each narrative is a list of segments: ordinary text, and planted items whose kind is known.
//! The text is written in the style of field incident reports (AWSD / SiND / UNDSS flash
//! reports) for the countries with the most incidents against aid workers, and on purpose full
//! of things that must survive: place names, agency acronyms, dates, times, counts, amounts,
//! road names, weapon and aircraft designations. The planted items use the formats people
//! actually write: international and local phone numbers with every usual separator, IBANs with
//! and without spaces, passport and national-ID numbers, plates, coordinates in decimal and DMS,
//! and the victims' and witnesses' names (Pashto/Dari, Arabic, Somali, Hausa, Amharic, Dinka,
//! French-Congolese, ..., some in Arabic, Ge'ez, Cyrillic or Myanmar script).

use slt_hub::anonymise::PiiKind;

/// One piece of a narrative.
#[derive(Debug, Clone)]
pub enum Segment {
    Text(String),
    Pii { kind: PiiKind, text: String },
}

/// A generated narrative with the names its private annex lists.
#[derive(Debug, Clone)]
pub struct Narrative {
    pub country: &'static str,
    pub segments: Vec<Segment>,
    pub names: Vec<String>,
}

impl Narrative {
    /// The narrative as submitted.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Text(t) => t.as_str(),
                Segment::Pii { text, .. } => text.as_str(),
            })
            .collect()
    }
}

/// SplitMix64: small, deterministic, good enough to vary templates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }

    fn letters(&mut self, n: usize, alphabet: &str) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..n).map(|_| *self.pick(&chars)).collect()
    }

    fn float(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        low + (high - low) * unit
    }
}

const UPPER: &str = "ABCDEFGHJKLMNPRSTUVWXYZ";

/// A listed person: the Latin spelling, and optionally the spelling in the local script.
type Person = (&'static str, Option<&'static str>);

struct Country {
    name: &'static str,
    dial: &'static str,
    /// National significant number: prefixes, then random digits up to `nsn_len`.
    nsn_prefixes: &'static [&'static str],
    nsn_len: usize,
    /// Whether local numbers are written with a trunk 0.
    trunk_zero: bool,
    intl_groups: &'static [&'static [usize]],
    local_groups: &'static [&'static [usize]],
    places: &'static [&'static str],
    admin1: &'static [&'static str],
    roads: &'static [&'static str],
    people: &'static [Person],
    currency: &'static str,
    authorities: &'static [&'static str],
    natid: fn(&mut Rng) -> (String, String),
    plate: fn(&mut Rng) -> (String, String),
    plate_shape: fn(&mut Rng) -> String,
    lat: (f64, f64),
    lon: (f64, f64),
    iban_countries: &'static [&'static str],
}

fn countries() -> Vec<Country> {
    vec![
        Country {
            name: "Afghanistan",
            dial: "93",
            nsn_prefixes: &["70", "72", "77", "78", "79", "74"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[2, 3, 4], &[9]],
            local_groups: &[&[3, 3, 4], &[10], &[4, 3, 3]],
            places: &[
                "Kandahar",
                "Kabul",
                "Herat",
                "Jalalabad",
                "Kunduz",
                "Lashkar Gah",
                "Ghazni",
                "Spin Boldak",
            ],
            admin1: &[
                "Kandahar Province",
                "Nangarhar",
                "Helmand",
                "Kunduz Province",
                "Ghazni Province",
            ],
            roads: &[
                "Kabul-Kandahar highway",
                "A1 road",
                "Ring Road",
                "Jalalabad-Torkham road",
            ],
            people: &[
                ("Ahmad Karimi", Some("احمد کریمی")),
                ("Farzana Ahmadzai", Some("فرزانه احمدزی")),
                ("Gul Rahman Stanikzai", None),
                ("Zarmina Hotak", Some("زرمینه هوتک")),
                ("Abdul Wahid Noorzai", None),
                ("Mohammad Nabi Popal", Some("محمد نبی پوپل")),
                ("Shabnam Rasuli", None),
            ],
            currency: "AFN",
            authorities: &["de facto authorities", "the GDI", "local police"],
            natid: |r| {
                if r.chance(50) {
                    (
                        "tazkira no. ".into(),
                        format!("{}-{}-{}", r.range(1398, 1403), r.digits(4), r.digits(5)),
                    )
                } else {
                    (
                        "e-tazkira ".into(),
                        format!("{}-{}-{}", r.range(1400, 1402), r.digits(4), r.digits(5)),
                    )
                }
            },
            plate: |r| {
                (
                    r.pick(&["plate no. ", "registration ", "plates "])
                        .to_string(),
                    r.digits(5),
                )
            },
            plate_shape: |r| format!("UN-{}", r.range(1000, 1899)),
            lat: (31.0, 36.5),
            lon: (62.0, 71.0),
            iban_countries: &["CH", "DE", "GB"],
        },
        Country {
            name: "Somalia",
            dial: "252",
            nsn_prefixes: &["61", "62", "63", "90", "68"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[2, 7], &[2, 3, 4]],
            local_groups: &[&[3, 7], &[3, 3, 4], &[10]],
            places: &[
                "Mogadishu",
                "Baidoa",
                "Kismayo",
                "Beledweyne",
                "Galkayo",
                "Dhusamareb",
                "Dolow",
            ],
            admin1: &["Banadir", "Bay", "Lower Juba", "Hiraan", "Mudug", "Gedo"],
            roads: &[
                "Afgoye corridor",
                "Baidoa-Mogadishu road",
                "Kismayo-Dhobley road",
            ],
            people: &[
                ("Abdirahman Mohamed Warsame", None),
                ("Hodan Abdi Farah", None),
                ("Faadumo Cali Nuur", None),
                ("Mohamed Abdullahi Hassan", Some("محمد عبدالله حسن")),
                ("Ayaan Xasan Jaamac", None),
                ("Bashir Omar Guled", None),
            ],
            currency: "USD",
            authorities: &["NISA officers", "regional police", "a clan militia"],
            natid: |r| ("national ID card ".into(), format!("SO{}", r.digits(8))),
            plate: |r| {
                (
                    r.pick(&["plate ", "plate number ", "registration "])
                        .to_string(),
                    format!("SL {}", r.digits(5)),
                )
            },
            plate_shape: |r| format!("UN {}", r.range(10000, 18999)),
            lat: (-1.0, 11.0),
            lon: (42.0, 50.0),
            iban_countries: &["SO", "CH", "GB"],
        },
        Country {
            name: "South Sudan",
            dial: "211",
            nsn_prefixes: &["91", "92", "95", "97", "98"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[2, 3, 4], &[3, 3, 3]],
            local_groups: &[&[3, 3, 4], &[4, 3, 3]],
            places: &[
                "Bor", "Juba", "Malakal", "Bentiu", "Yei", "Pibor", "Rumbek", "Torit",
            ],
            admin1: &[
                "Jonglei",
                "Upper Nile",
                "Unity",
                "Central Equatoria",
                "Lakes",
            ],
            roads: &["Juba-Bor road", "Juba-Nimule road", "Rumbek-Wau road"],
            people: &[
                ("Deng Bol Aguer", None),
                ("Achol Makuei Deng", None),
                ("Gatluak Riek Kuol", None),
                ("Nyakuoth Gatwech Chuol", None),
                ("Majok Garang Ajak", None),
                ("Abuk Ayuel Malual", None),
            ],
            currency: "SSP",
            authorities: &["NSS officers", "SSPDF soldiers", "county officials"],
            natid: |r| {
                (
                    "nationality certificate no. ".into(),
                    format!("{}{}", r.letters(1, "ABCJ"), r.digits(7)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["registration ", "plate "]).to_string(),
                    format!("SSD {} {}", r.digits(3), r.letters(1, UPPER)),
                )
            },
            plate_shape: |r| {
                format!(
                    "K{} {}{}",
                    r.letters(2, UPPER),
                    r.digits(3),
                    r.letters(1, UPPER)
                )
            },
            lat: (4.0, 10.0),
            lon: (25.0, 34.0),
            iban_countries: &["CH", "NL"],
        },
        Country {
            name: "Sudan",
            dial: "249",
            nsn_prefixes: &["90", "91", "92", "96", "99"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[3, 3, 3], &[2, 3, 4]],
            local_groups: &[&[4, 3, 3], &[10]],
            places: &[
                "El Fasher",
                "Nyala",
                "Geneina",
                "Kassala",
                "Port Sudan",
                "Kadugli",
                "Zalingei",
            ],
            admin1: &[
                "North Darfur",
                "South Darfur",
                "West Darfur",
                "Kassala State",
                "South Kordofan",
            ],
            roads: &["Nyala-El Fasher road", "the road to Tawila"],
            people: &[
                ("Mohamed Osman Eltayeb", Some("محمد عثمان الطيب")),
                ("Amna Ibrahim Adam", Some("آمنة إبراهيم آدم")),
                ("Hawa Abakar Yahya", None),
                ("Khalid Musa Abdelrahman", Some("خالد موسى عبدالرحمن")),
                ("Sara Elnour Hamid", None),
            ],
            currency: "SDG",
            authorities: &["RSF fighters", "military intelligence", "HAC officials"],
            natid: |r| ("national number ".into(), r.digits(11)),
            plate: |r| {
                (
                    r.pick(&["plate ", "registration no. "]).to_string(),
                    format!("{}/{}", r.digits(5), r.range(1, 9)),
                )
            },
            plate_shape: |r| format!("UN-{}", r.range(2000, 2999)),
            lat: (10.0, 20.0),
            lon: (22.0, 37.0),
            iban_countries: &["SD", "CH", "DE"],
        },
        Country {
            name: "Syria",
            dial: "963",
            nsn_prefixes: &["93", "94", "95", "96", "98", "99"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[3, 3, 3], &[2, 3, 4]],
            local_groups: &[&[4, 3, 3], &[10]],
            places: &[
                "Idlib",
                "Aleppo",
                "Deir ez-Zor",
                "Raqqa",
                "Daraa",
                "Azaz",
                "Sarmada",
            ],
            admin1: &[
                "Idlib Governorate",
                "Aleppo Governorate",
                "Deir ez-Zor Governorate",
            ],
            roads: &["M4 highway", "M5 highway", "Bab al-Hawa crossing road"],
            people: &[
                ("Khaled al-Hassan", Some("خالد الحسن")),
                ("Reem Al-Ahmad", Some("ريم الأحمد")),
                ("Yousef Haddad", Some("يوسف حداد")),
                ("Nour Alkhatib", Some("نور الخطيب")),
                ("Omar Sheikh Ali", None),
            ],
            currency: "SYP",
            authorities: &[
                "security branch officers",
                "de facto authorities",
                "armed opposition group",
            ],
            natid: |r| {
                (
                    "ID card ".into(),
                    format!("{}", r.range(10_000_000_000, 99_999_999_999)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plate ", "plates "]).to_string(),
                    format!("{}", r.range(100_000, 999_999)),
                )
            },
            plate_shape: |r| format!("UN-{}", r.range(3000, 3999)),
            lat: (32.5, 37.0),
            lon: (36.0, 41.5),
            iban_countries: &["LB", "JO", "TR", "DE"],
        },
        Country {
            name: "DR Congo",
            dial: "243",
            nsn_prefixes: &["81", "82", "84", "85", "89", "97", "99"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[2, 3, 4], &[3, 3, 3], &[2, 3, 2, 2]],
            local_groups: &[&[3, 3, 4], &[4, 3, 3], &[10]],
            places: &[
                "Goma", "Beni", "Bunia", "Rutshuru", "Uvira", "Kalehe", "Masisi",
            ],
            admin1: &["Nord-Kivu", "Ituri", "Sud-Kivu", "Tanganyika"],
            roads: &["RN2", "RN4", "Goma-Sake road", "Beni-Kasindi road"],
            people: &[
                ("Jean-Pierre Mbuyi Kabongo", None),
                ("Espérance Kahindo Masika", None),
                ("Dieudonné Mukendi Tshibangu", None),
                ("Bénédicte Nsimire Bisimwa", None),
                ("Prince Bahati Kambale", None),
                ("Chantal Furaha Mapendo", None),
            ],
            currency: "CDF",
            authorities: &["FARDC soldiers", "ANR agents", "a Wazalendo group"],
            natid: |r| {
                (
                    "voter card ".into(),
                    format!("{}", r.range(1_000_000_000, 9_999_999_999)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plaque ", "plate ", "registration "]).to_string(),
                    format!("{}{}{}", r.digits(4), r.letters(2, UPPER), r.digits(2)),
                )
            },
            plate_shape: |r| format!("UN {}", r.range(4000, 4999)),
            lat: (-5.0, 3.0),
            lon: (18.0, 30.0),
            iban_countries: &["FR", "BE", "CH"],
        },
        Country {
            name: "Yemen",
            dial: "967",
            nsn_prefixes: &["77", "73", "71", "70", "78"],
            nsn_len: 9,
            trunk_zero: false,
            intl_groups: &[&[3, 3, 3], &[2, 3, 4]],
            local_groups: &[&[2, 3, 4]],
            places: &[
                "Taiz", "Hodeidah", "Marib", "Aden", "Saada", "Sanaa", "Mokha",
            ],
            admin1: &[
                "Taiz Governorate",
                "Al Hudaydah",
                "Marib Governorate",
                "Aden Governorate",
            ],
            roads: &[
                "the Aden-Taiz road",
                "the coastal road",
                "the Marib-Sanaa road",
            ],
            people: &[
                ("Fatima Ali Al-Hakimi", Some("فاطمة علي الحكيمي")),
                ("Abdullah Saleh Al-Maqtari", Some("عبدالله صالح المقطري")),
                ("Mohammed Yahya Al-Sharabi", Some("محمد يحيى الشرعبي")),
                ("Amal Nasser Qaid", None),
            ],
            currency: "YER",
            authorities: &[
                "de facto authorities",
                "security belt forces",
                "Ansar Allah officials",
            ],
            natid: |r| {
                (
                    "ID card ".into(),
                    format!("{}{}", r.range(1, 9), r.digits(10)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plate ", "plate no. "]).to_string(),
                    format!("{}/{}", r.digits(5), r.range(1, 9)),
                )
            },
            plate_shape: |r| format!("UN-{}", r.range(5000, 5999)),
            lat: (13.0, 17.0),
            lon: (43.0, 51.0),
            iban_countries: &["JO", "CH", "GB"],
        },
        Country {
            name: "Nigeria",
            dial: "234",
            nsn_prefixes: &["803", "806", "703", "706", "813", "816", "903", "806"],
            nsn_len: 10,
            trunk_zero: true,
            intl_groups: &[&[3, 3, 4], &[10]],
            local_groups: &[&[4, 3, 4], &[11], &[4, 7]],
            places: &[
                "Maiduguri",
                "Monguno",
                "Damboa",
                "Bama",
                "Gwoza",
                "Dikwa",
                "Ngala",
            ],
            admin1: &["Borno State", "Yobe State", "Adamawa State"],
            roads: &[
                "Maiduguri-Damboa road",
                "Maiduguri-Monguno road",
                "the A3 highway",
            ],
            people: &[
                ("Musa Abubakar Danjuma", None),
                ("Hauwa Mohammed Liman", None),
                ("Aisha Bulama Kachalla", None),
                ("Ibrahim Lawan Goni", None),
                ("Ngozi Okonkwọ", None),
                ("Aminu Sani Dankano", None),
            ],
            currency: "NGN",
            authorities: &["CJTF members", "military officers", "DSS operatives"],
            natid: |r| ("NIN ".into(), r.digits(11)),
            plate: |r| {
                (
                    r.pick(&["plate number ", "registration "]).to_string(),
                    format!(
                        "{}-{}{}",
                        r.letters(3, UPPER),
                        r.digits(3),
                        r.letters(2, UPPER)
                    ),
                )
            },
            plate_shape: |r| {
                format!(
                    "{} {} {}",
                    r.letters(3, UPPER),
                    r.digits(3),
                    r.letters(2, UPPER)
                )
            },
            lat: (10.0, 13.5),
            lon: (11.0, 14.5),
            iban_countries: &["GB", "CH", "NL"],
        },
        Country {
            name: "Mali",
            dial: "223",
            nsn_prefixes: &["76", "66", "79", "70", "65", "20"],
            nsn_len: 8,
            trunk_zero: false,
            intl_groups: &[&[2, 2, 2, 2], &[8]],
            local_groups: &[&[2, 2, 2, 2], &[2, 2, 2, 2], &[8]],
            places: &[
                "Gao", "Mopti", "Ménaka", "Timbuktu", "Kidal", "Ségou", "Douentza",
            ],
            admin1: &[
                "Gao Region",
                "Mopti Region",
                "Ménaka Region",
                "Tombouctou Region",
            ],
            roads: &["RN16", "the Gao-Ansongo road", "RN15"],
            people: &[
                ("Aïssata Traoré", None),
                ("Moussa Coulibaly", None),
                ("Fatoumata Diarra", None),
                ("Oumar Maïga", None),
                ("Bakary Keïta", None),
                ("Mariam Ag Ahmed", None),
            ],
            currency: "XOF",
            authorities: &["FAMa soldiers", "gendarmes", "a self-defence group"],
            natid: |r| {
                (
                    "NINA ".into(),
                    format!("{}{}", r.digits(14), r.letters(1, UPPER)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["immatriculation ", "plate "]).to_string(),
                    format!(
                        "{} {} {}",
                        r.letters(2, UPPER),
                        r.digits(4),
                        r.letters(2, "MDR")
                    ),
                )
            },
            plate_shape: |r| format!("UN-{}", r.range(6000, 6999)),
            lat: (12.0, 17.0),
            lon: (-8.0, 1.0),
            iban_countries: &["FR", "CH"],
        },
        Country {
            name: "Central African Republic",
            dial: "236",
            nsn_prefixes: &["72", "75", "70", "77"],
            nsn_len: 8,
            trunk_zero: false,
            intl_groups: &[&[2, 2, 2, 2]],
            local_groups: &[&[2, 2, 2, 2], &[8]],
            places: &[
                "Bangui",
                "Bambari",
                "Bria",
                "Kaga-Bandoro",
                "Bossangoa",
                "Batangafo",
                "Ndélé",
            ],
            admin1: &["Ouaka", "Haute-Kotto", "Nana-Grébizi", "Ouham"],
            roads: &["RN2", "the Bambari-Ippy axis", "the Bangui-Sibut road"],
            people: &[
                ("Clarisse Yakété Ngoumbé", None),
                ("Prosper Ndouba Gbako", None),
                ("Rosine Zoumaldé", None),
                ("Hervé Kossi Ngaïssona", None),
                ("Judith Namsio", None),
            ],
            currency: "XAF",
            authorities: &["FACA soldiers", "armed group elements", "gendarmerie"],
            natid: |r| {
                (
                    "carte d'identité no. ".into(),
                    format!("{}", r.range(100_000_000, 999_999_999)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plaque ", "plate "]).to_string(),
                    format!(
                        "{} {} {}",
                        r.letters(2, UPPER),
                        r.digits(4),
                        r.letters(2, UPPER)
                    ),
                )
            },
            plate_shape: |r| format!("UN {}", r.range(7000, 7999)),
            lat: (4.0, 8.0),
            lon: (15.0, 24.0),
            iban_countries: &["FR", "BE"],
        },
        Country {
            name: "Pakistan",
            dial: "92",
            nsn_prefixes: &["300", "301", "311", "321", "333", "345"],
            nsn_len: 10,
            trunk_zero: true,
            intl_groups: &[&[3, 7], &[3, 3, 4]],
            local_groups: &[&[4, 7], &[11], &[4, 3, 4]],
            places: &[
                "Peshawar",
                "Quetta",
                "Bannu",
                "Dera Ismail Khan",
                "Chitral",
                "Landi Kotal",
            ],
            admin1: &["Khyber Pakhtunkhwa", "Balochistan", "Sindh"],
            roads: &["N-5 highway", "N-25 highway", "Indus Highway"],
            people: &[
                ("Gul Khan Afridi", Some("گل خان آفریدی")),
                ("Shazia Parveen", Some("شازیہ پروین")),
                ("Imran Ullah Marwat", None),
                ("Sadia Bibi Yousafzai", None),
                ("Rahimullah Wazir", None),
            ],
            currency: "PKR",
            authorities: &["police", "FC personnel", "CTD officers"],
            natid: |r| {
                (
                    "CNIC ".into(),
                    format!(
                        "{}-{}-{}",
                        r.range(11_000, 61_999),
                        r.digits(7),
                        r.range(1, 9)
                    ),
                )
            },
            plate: |r| {
                (
                    r.pick(&["registration ", "plate "]).to_string(),
                    format!("{}-{}", r.letters(3, UPPER), r.digits(3)),
                )
            },
            plate_shape: |r| {
                format!(
                    "{}-{}",
                    r.pick(&["LEA", "PSH", "QTA", "IDP", "BNU"]),
                    r.digits(4)
                )
            },
            lat: (25.0, 36.0),
            lon: (62.0, 75.0),
            iban_countries: &["PK", "GB"],
        },
        Country {
            name: "Iraq",
            dial: "964",
            nsn_prefixes: &["770", "780", "790", "750", "771"],
            nsn_len: 10,
            trunk_zero: true,
            intl_groups: &[&[3, 3, 4], &[10]],
            local_groups: &[&[4, 3, 4], &[11]],
            places: &[
                "Mosul", "Sinjar", "Kirkuk", "Ramadi", "Fallujah", "Tal Afar", "Hawija",
            ],
            admin1: &["Ninewa", "Kirkuk Governorate", "Anbar", "Salah al-Din"],
            roads: &["the Mosul-Sinjar road", "Route 1", "the Kirkuk-Hawija road"],
            people: &[
                ("Ali Hussein Al-Jubouri", Some("علي حسين الجبوري")),
                ("Nadia Khalaf Murad", None),
                ("Layla Qasim Abbas", Some("ليلى قاسم عباس")),
                ("Haider Kadhim Al-Saadi", Some("حيدر كاظم الساعدي")),
            ],
            currency: "IQD",
            authorities: &["PMF members", "Asayish officers", "federal police"],
            natid: |r| {
                (
                    "unified national card ".into(),
                    format!("{}", r.range(100_000_000_000, 999_999_999_999)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plate ", "plates "]).to_string(),
                    format!("{}", r.range(10_000, 99_999)),
                )
            },
            plate_shape: |r| format!("UN-{}", r.range(8000, 8999)),
            lat: (30.0, 37.0),
            lon: (39.0, 48.0),
            iban_countries: &["IQ", "JO", "DE"],
        },
        Country {
            name: "Kenya",
            dial: "254",
            nsn_prefixes: &["712", "722", "733", "710", "795", "110"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[3, 3, 3], &[3, 6], &[9]],
            local_groups: &[&[4, 3, 3], &[4, 6], &[10]],
            places: &[
                "Dadaab", "Garissa", "Mandera", "Lodwar", "Kakuma", "Wajir", "Lamu",
            ],
            admin1: &[
                "Garissa County",
                "Mandera County",
                "Turkana County",
                "Lamu County",
            ],
            roads: &[
                "the Garissa-Dadaab road",
                "A2 highway",
                "the Lamu-Garsen road",
            ],
            people: &[
                ("Wanjiru Kamau", None),
                ("Ochieng Otieno", None),
                ("Abdi Hassan Ibrahim", None),
                ("Chebet Kiprono", None),
                ("Mumbua Mutiso", None),
            ],
            currency: "KES",
            authorities: &[
                "police reservists",
                "KDF soldiers",
                "county enforcement officers",
            ],
            natid: |r| {
                (
                    "ID no. ".into(),
                    r.range(20_000_000, 39_999_999).to_string(),
                )
            },
            plate: |r| {
                (
                    r.pick(&["registration ", "plate "]).to_string(),
                    format!(
                        "K{}{} {}{}",
                        r.letters(1, "BCD"),
                        r.letters(1, UPPER),
                        r.digits(3),
                        r.letters(1, UPPER)
                    ),
                )
            },
            plate_shape: |r| {
                format!(
                    "K{}{} {}{}",
                    r.letters(1, "BCD"),
                    r.letters(1, UPPER),
                    r.digits(3),
                    r.letters(1, UPPER)
                )
            },
            lat: (-3.0, 4.0),
            lon: (34.0, 41.0),
            iban_countries: &["GB", "NL", "CH"],
        },
        Country {
            name: "Ethiopia",
            dial: "251",
            nsn_prefixes: &["91", "92", "93", "94"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[2, 3, 4], &[3, 3, 3]],
            local_groups: &[&[4, 3, 3], &[4, 2, 2, 2], &[10]],
            places: &[
                "Mekelle", "Shire", "Gondar", "Dessie", "Gambella", "Jijiga", "Kobo",
            ],
            admin1: &[
                "Tigray",
                "Amhara",
                "Afar",
                "Somali Region",
                "Gambella Region",
            ],
            roads: &[
                "the Mekelle-Adigrat road",
                "the Gondar-Metema road",
                "the Semera-Abala road",
            ],
            people: &[
                ("Abebe Bekele Tessema", Some("አበበ በቀለ ተሰማ")),
                ("Tsehay Gebremedhin", Some("ፀሐይ ገብረመድህን")),
                ("Hailu Mengistu Alemayehu", None),
                ("Meseret Alemu Desta", Some("መሰረት አለሙ ደስታ")),
                ("Lemlem Haile", None),
            ],
            currency: "ETB",
            authorities: &["federal police", "Fano militia members", "ENDF soldiers"],
            natid: |r| {
                (
                    "Fayda ID ".into(),
                    format!("{} {} {}", r.digits(4), r.digits(4), r.digits(4)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plate ", "registration "]).to_string(),
                    format!("3-{}{}", r.letters(1, "ABC"), r.digits(5)),
                )
            },
            plate_shape: |r| format!("UN-{}", r.range(9000, 9999)),
            lat: (4.0, 14.0),
            lon: (34.0, 45.0),
            iban_countries: &["CH", "DE"],
        },
        Country {
            name: "Haiti",
            dial: "509",
            nsn_prefixes: &["34", "37", "38", "41", "46", "48", "31", "36"],
            nsn_len: 8,
            trunk_zero: false,
            intl_groups: &[&[2, 2, 4], &[4, 4], &[8]],
            local_groups: &[&[4, 4], &[4, 4]],
            places: &[
                "Port-au-Prince",
                "Cité Soleil",
                "Croix-des-Bouquets",
                "Martissant",
                "Gonaïves",
                "Carrefour",
            ],
            admin1: &["Ouest", "Artibonite", "Centre"],
            roads: &["Route Nationale 1", "RN2", "Route de Frères"],
            people: &[
                ("Jean-Robert Pierre-Louis", None),
                ("Marie-Claude Joseph", None),
                ("Wilner Dorvil", None),
                ("Nadège Saint-Fleur", None),
                ("Frantz Étienne", None),
            ],
            currency: "HTG",
            authorities: &["PNH officers", "a gang coalition", "brigade members"],
            natid: |r| {
                (
                    "NIF ".into(),
                    format!(
                        "{}-{}-{}-{}",
                        r.digits(3),
                        r.digits(3),
                        r.digits(3),
                        r.digits(1)
                    ),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plaque ", "plate "]).to_string(),
                    format!("{}-{}", r.letters(2, "APSO"), r.digits(5)),
                )
            },
            plate_shape: |r| format!("{}-{}", r.letters(2, "APSO"), r.digits(5)),
            lat: (18.1, 19.9),
            lon: (-74.0, -72.0),
            iban_countries: &["FR", "CH"],
        },
        Country {
            name: "Ukraine",
            dial: "380",
            nsn_prefixes: &["50", "66", "67", "97", "63", "93"],
            nsn_len: 9,
            trunk_zero: true,
            intl_groups: &[&[2, 3, 4], &[2, 3, 2, 2]],
            local_groups: &[&[3, 3, 2, 2], &[3, 3, 4], &[10]],
            places: &[
                "Kharkiv",
                "Kherson",
                "Mykolaiv",
                "Zaporizhzhia",
                "Sumy",
                "Kramatorsk",
                "Izium",
            ],
            admin1: &[
                "Kharkiv Oblast",
                "Kherson Oblast",
                "Donetsk Oblast",
                "Zaporizhzhia Oblast",
            ],
            roads: &["the M-03 highway", "the H-11 road", "the E40"],
            people: &[
                ("Dmytro Kovalenko", Some("Дмитро Коваленко")),
                ("Olena Shevchuk", Some("Олена Шевчук")),
                ("Andriy Melnychenko", Some("Андрій Мельниченко")),
                ("Iryna Bondarenko", None),
            ],
            currency: "UAH",
            authorities: &[
                "occupying forces",
                "military administration officials",
                "police",
            ],
            natid: |r| {
                (
                    "passport ".into(),
                    format!("{}{}", r.letters(2, "ЕFKMT"), r.digits(6)),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plate ", "registration "]).to_string(),
                    format!(
                        "{}{} {} {}{}",
                        r.letters(1, "ABCK"),
                        r.letters(1, "AEHX"),
                        r.digits(4),
                        r.letters(1, UPPER),
                        r.letters(1, UPPER)
                    ),
                )
            },
            plate_shape: |r| {
                format!(
                    "{}{} {} {}{}",
                    r.letters(1, "ABCK"),
                    r.letters(1, "AEHX"),
                    r.digits(4),
                    r.letters(1, UPPER),
                    r.letters(1, UPPER)
                )
            },
            lat: (46.0, 51.0),
            lon: (28.0, 38.0),
            iban_countries: &["UA", "DE", "CH"],
        },
        Country {
            name: "Myanmar",
            dial: "95",
            nsn_prefixes: &["9"],
            nsn_len: 10,
            trunk_zero: true,
            intl_groups: &[&[1, 3, 3, 3], &[1, 9]],
            local_groups: &[&[2, 3, 3, 3], &[11]],
            places: &[
                "Sittwe",
                "Lashio",
                "Myitkyina",
                "Hpa-an",
                "Mrauk-U",
                "Hakha",
                "Loikaw",
            ],
            admin1: &["Rakhine State", "Shan State", "Kachin State", "Kayin State"],
            roads: &[
                "the Sittwe-Yangon road",
                "the Mandalay-Lashio road",
                "the Asian Highway AH1",
            ],
            people: &[
                ("Aung Kyaw Moe", Some("အောင်ကျော်မိုး")),
                ("Daw Khin Myint", None),
                ("Naw Htoo Paw", None),
                ("Zaw Min Htet", None),
                ("Hla Hla Win", None),
            ],
            currency: "MMK",
            authorities: &["military officers", "EAO members", "immigration officials"],
            natid: |r| {
                (
                    "NRC card ".into(),
                    format!(
                        "{}/{}({}){}",
                        r.range(1, 14),
                        r.letters(6, "ABCDEFGHKLMNPSTWYZ"),
                        "N",
                        r.digits(6)
                    ),
                )
            },
            plate: |r| {
                (
                    r.pick(&["plate ", "registration "]).to_string(),
                    format!("{}{}-{}", r.range(1, 9), r.letters(1, UPPER), r.digits(4)),
                )
            },
            plate_shape: |r| format!("{}{}-{}", r.range(1, 9), r.letters(1, UPPER), r.digits(4)),
            lat: (16.0, 26.0),
            lon: (92.0, 98.0),
            iban_countries: &["CH", "GB"],
        },
    ]
}

fn format_groups(digits: &str, groups: &[usize], separator: &str) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (i, &g) in groups.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        let end = if i + 1 == groups.len() {
            digits.len()
        } else {
            (at + g).min(digits.len())
        };
        out.push_str(&digits[at..end]);
        at = end;
    }
    out
}

fn nsn(r: &mut Rng, c: &Country) -> String {
    let prefix = *r.pick(c.nsn_prefixes);
    format!("{prefix}{}", r.digits(c.nsn_len - prefix.len()))
}

fn phone_international(r: &mut Rng, c: &Country) -> String {
    let number = nsn(r, c);
    let groups = *r.pick(c.intl_groups);
    let separator = *r.pick(&[" ", " ", "-", ".", " "]);
    let body = format_groups(&number, groups, separator);
    match r.below(11) {
        0 | 1 => format!("00{} {body}", c.dial),
        10 => format!("+{}  {}", c.dial, format_groups(&number, groups, " ")),
        2 => format!("(+{}) {body}", c.dial),
        3 if c.trunk_zero => format!("+{} (0){body}", c.dial),
        4 => format!("+{}{}", c.dial, number),
        3 => format!("00{}-{}", c.dial, number),
        5 => format!("+{}-{}", c.dial, format_groups(&number, groups, "-")),
        _ => format!("+{} {body}", c.dial),
    }
}

fn phone_local(r: &mut Rng, c: &Country) -> String {
    let number = nsn(r, c);
    let number = if c.trunk_zero {
        format!("0{number}")
    } else {
        number
    };
    let groups = *r.pick(c.local_groups);
    let separator = *r.pick(&[" ", " ", "-", ".", " "]);
    let body = format_groups(&number, groups, separator);
    if c.trunk_zero && r.chance(10) && groups.len() > 1 {
        // "(061) 512 3456": area code in parentheses.
        let first = groups[0];
        return format!(
            "({}) {}",
            &number[..first],
            format_groups(&number[first..], &groups[1..], separator)
        );
    }
    body
}

/// Makes a valid IBAN (ISO 13616 check digits) for one of the given countries.
fn iban(r: &mut Rng, countries: &[&str]) -> String {
    let country = *r.pick(countries);
    let bban = match country {
        "IQ" => format!(
            "{}{}",
            r.letters(4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            r.digits(15)
        ),
        "PK" => format!(
            "{}{}",
            r.letters(4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            r.digits(16)
        ),
        "UA" => r.digits(25),
        "SD" => r.digits(14),
        "SO" => r.digits(19),
        "CH" => r.digits(17),
        "DE" => r.digits(18),
        "FR" => r.digits(23),
        "BE" => r.digits(12),
        "GB" => format!(
            "{}{}",
            r.letters(4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            r.digits(14)
        ),
        "NL" => format!(
            "{}{}",
            r.letters(4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            r.digits(10)
        ),
        "JO" => format!(
            "{}{}",
            r.letters(4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            r.digits(22)
        ),
        "LB" => r.digits(24),
        "TR" => r.digits(22),
        _ => r.digits(18),
    };
    let rearranged = format!("{bban}{country}00");
    let mut remainder: u64 = 0;
    for c in rearranged.chars() {
        let value = u64::from(c.to_digit(36).expect("alphanumeric"));
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    let compact = format!("{country}{:02}{bban}", 98 - remainder);
    if r.chance(55) {
        compact
            .as_bytes()
            .chunks(4)
            .map(|chunk| std::str::from_utf8(chunk).expect("ascii"))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        compact
    }
}

fn coordinate(r: &mut Rng, c: &Country) -> (String, String) {
    let lat = r.float(c.lat.0, c.lat.1);
    let lon = r.float(c.lon.0, c.lon.1);
    let places = r.range(4, 6) as usize;
    let (ns, ew) = (
        if lat < 0.0 { 'S' } else { 'N' },
        if lon < 0.0 { 'W' } else { 'E' },
    );
    let dms = |v: f64| {
        let v = v.abs();
        let d = v.trunc();
        let m = ((v - d) * 60.0).trunc();
        let s = ((v - d) * 60.0 - m) * 60.0;
        (d as u32, m as u32, s.trunc() as u32)
    };
    let (ld, lm, ls) = dms(lat);
    let (od, om, os) = dms(lon);
    match r.below(11) {
        0 => (String::new(), format!("{lat:.places$}, {lon:.places$}")),
        1 => ("(".into(), format!("{lat:.places$},{lon:.places$}")),
        2 => (String::new(), format!("lat {lat:.4} lon {lon:.4}")),
        3 => (String::new(), format!("Lat: {lat:.5}, Long: {lon:.5}")),
        4 => (
            String::new(),
            format!("{ns} {:.4} {ew} {:.4}", lat.abs(), lon.abs()),
        ),
        5 => (
            String::new(),
            format!("{:.4}°{ns}, {:.4}°{ew}", lat.abs(), lon.abs()),
        ),
        6 => (
            String::new(),
            format!("{ld}°{lm}'{ls}\"{ns} {od}°{om}'{os}\"{ew}"),
        ),
        7 => (
            String::new(),
            format!("{ld}° {lm}′ {ls}″ {ns}, {od}° {om}′ {os}″ {ew}"),
        ),
        8 => ("grid ".into(), mgrs(r, lat, lon)),
        9 => (String::new(), format!("{lat:.3}, {lon:.3}")),
        _ => (
            String::new(),
            format!("latitude {lat:.4} and longitude {lon:.4}"),
        ),
    }
}

fn mgrs(r: &mut Rng, lat: f64, lon: f64) -> String {
    let zone = ((lon + 180.0) / 6.0).floor() as i64 + 1;
    let bands = b"CDEFGHJKLMNPQRSTUVWX";
    let band = bands[(((lat + 80.0) / 8.0).floor() as usize).min(bands.len() - 1)] as char;
    let square = r.letters(2, "ABCDEFGHJKLMNPQRSTUVWXYZ");
    let precision = if r.chance(50) { 4 } else { 5 };
    format!(
        "{zone}{band} {square} {} {}",
        r.digits(precision),
        r.digits(precision)
    )
}

const LOCALS: &[&str] = &[
    "a.karimi",
    "hodan.farah",
    "jp.mbuyi",
    "security.focal",
    "ops.field",
    "deng_bol88",
    "f.alhakimi",
    "musa.danjuma",
    "moussa.coulibaly75",
    "o.shevchuk",
    "aungkyaw.moe",
    "wkamau",
    "fieldsec",
    "head.of.office",
    "nyakuoth.g",
    "abdi.h.ibrahim",
    "lemlem.haile",
    "wilner.dorvil",
    "g.afridi",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.fr",
    "hotmail.com",
    "protonmail.com",
    "outlook.com",
    "ngo-kivu.org",
    "relief-somalia.org",
    "un.org",
    "wfp.org",
    "unhcr.org",
    "icrc.org",
    "msf.org",
    "nrc.no",
    "ukr.net",
    "yahoo.co.uk",
    "sahel-aid.ml",
];

fn email(r: &mut Rng) -> String {
    let local = *r.pick(LOCALS);
    let domain = *r.pick(DOMAINS);
    match r.below(10) {
        0 => format!("{local}@{domain}").to_uppercase(),
        1 => {
            let (name, tld) = domain.rsplit_once('.').unwrap_or((domain, "org"));
            format!("{local} [at] {} [dot] {tld}", name.replace('.', " [dot] "))
        }
        2 => format!("{local}{}@{domain}", r.range(1, 99)),
        _ => format!("{local}@{domain}"),
    }
}

const HANDLES: &[&str] = &[
    "kabul.voice",
    "jubanews24",
    "goma_info",
    "sahel.alerts",
    "taiz.now",
    "borno_updates",
    "hiiraan.live",
    "idlib.media",
    "haiti.actu",
    "kharkiv_today",
    "rakhine.watch",
];
const NEWS: &[&str] = &[
    "localnews-jonglei",
    "radiodalsan",
    "kivu-actualites",
    "sahel-info",
    "yemen-press",
    "borno-daily",
    "darfur24",
    "haiti-nouvelles",
];

fn url(r: &mut Rng) -> String {
    let handle = *r.pick(HANDLES);
    let news = *r.pick(NEWS);
    match r.below(9) {
        0 => format!("https://www.facebook.com/{handle}/posts/{}", r.digits(16)),
        1 => format!("https://twitter.com/{handle}/status/{}", r.digits(19)),
        2 => format!(
            "http://www.{news}.com/2023/0{}/attack-on-aid-convoy-{}",
            r.range(1, 9),
            r.digits(4)
        ),
        3 => format!("www.{news}.org/news/{}", r.digits(6)),
        4 => format!(
            "https://t.me/{}/{}",
            handle.replace('.', "_"),
            r.range(100, 99999)
        ),
        5 => format!(
            "https://youtu.be/{}",
            r.letters(
                11,
                "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
            )
        ),
        6 => format!(
            "https://drive.google.com/file/d/{}/view?usp=sharing",
            r.letters(28, "abcdefghijkmnopqrstuvwxyz0123456789")
        ),
        7 => format!("http://{news}.net/article.php?id={}&lang=en", r.digits(5)),
        _ => format!(
            "https://www.tiktok.com/@{}/video/{}",
            handle.replace('.', "_"),
            r.digits(19)
        ),
    }
}

fn passport(r: &mut Rng) -> String {
    match r.below(4) {
        0 => format!("P{}", r.digits(7)),
        1 => format!("{}{}", r.letters(2, UPPER), r.digits(7)),
        2 => format!("{}{}", r.letters(1, UPPER), r.digits(8)),
        _ => format!("{}{}", r.letters(2, UPPER), r.digits(6)),
    }
}

const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn date(r: &mut Rng) -> String {
    let day = r.range(1, 28);
    let month = r.range(1, 12);
    let year = r.range(2019, 2024);
    let name = MONTHS[(month - 1) as usize];
    match r.below(8) {
        0 => format!("{year}-{month:02}-{day:02}"),
        1 => format!("{day:02}/{month:02}/{year}"),
        2 => format!("{day:02}.{month:02}.{year}"),
        3 => format!("{day} {}", &name[..3]),
        4 => format!("the night of {day}-{} {name}", day + 1),
        _ => format!("{day} {name} {year}"),
    }
}

fn time(r: &mut Rng) -> String {
    let h = r.range(0, 23);
    let m = r.range(0, 11) * 5;
    match r.below(4) {
        0 => format!("{h:02}:{m:02}"),
        1 => format!("{h:02}{m:02} hrs"),
        2 => format!("around {h}:{m:02}"),
        _ => format!("{h:02}h{m:02}"),
    }
}

const ORGS: &[&str] = &[
    "an INGO",
    "a UN agency",
    "a national NGO",
    "the ICRC",
    "an IFRC-supported national society",
    "WFP",
    "UNICEF",
    "UNHCR",
    "IOM",
    "MSF",
    "NRC",
    "a local NNGO partner",
    "Save the Children",
    "the health cluster lead",
    "an INGO health partner",
    "OCHA",
];
const GROUPS: &[&str] = &[
    "armed men",
    "unidentified gunmen",
    "an NSAG",
    "suspected ISWAP fighters",
    "a local militia",
    "men in military uniform",
    "armed youths",
    "a criminal gang",
    "bandits on motorbikes",
];
const WEAPONS: &[&str] = &[
    "AK-47 rifles",
    "an RPG-7",
    "PKM machine guns",
    "a roadside IED",
    "82mm mortar rounds",
    "a VBIED",
    "small arms",
    "machetes",
];
const VEHICLES: &[&str] = &[
    "white Land Cruiser",
    "Toyota Hilux",
    "rented minibus",
    "armoured Land Cruiser",
    "water truck",
    "ambulance",
    "motorbike",
];
const ROLES: &[&str] = &[
    "driver",
    "nurse",
    "community mobiliser",
    "logistics officer",
    "protection monitor",
    "guard",
    "nutrition assistant",
    "field coordinator",
    "vaccinator",
    "engineer",
];
const TITLES: &[&str] = &[
    "Mr.",
    "Ms",
    "Dr",
    "Mrs",
    "Nurse",
    "Eng.",
    "colleague",
    "the driver",
];

struct Ctx<'a> {
    r: &'a mut Rng,
    c: &'a Country,
    victims: Vec<Person>,
}

/// Appends a template's expansion to `out`. `{slot}`s become text or planted items.
fn expand(template: &str, ctx: &mut Ctx<'_>, out: &mut Vec<Segment>) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        push_text(out, &rest[..open]);
        let close = open + rest[open..].find('}').expect("closed slot");
        let slot = &rest[open + 1..close];
        fill(slot, ctx, out);
        rest = &rest[close + 1..];
    }
    push_text(out, rest);
}

fn push_text(out: &mut Vec<Segment>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Segment::Text(last)) = out.last_mut() {
        last.push_str(text);
    } else {
        out.push(Segment::Text(text.to_owned()));
    }
}

fn pii(out: &mut Vec<Segment>, kind: PiiKind, text: String) {
    out.push(Segment::Pii { kind, text });
}

/// The parts of a name a writer may use alone (not the honorifics "Daw", "Naw").
fn parts(name: &str) -> Vec<&str> {
    name.split([' ', '-'])
        .filter(|p| p.chars().count() >= 3 && !matches!(*p, "Daw" | "Naw"))
        .collect()
}

fn fill(slot: &str, ctx: &mut Ctx<'_>, out: &mut Vec<Segment>) {
    let r = &mut *ctx.r;
    let c = ctx.c;
    let victim = |i: usize| ctx.victims[i.min(ctx.victims.len() - 1)];
    match slot {
        "place" => push_text(out, r.pick_str(c.places)),
        "place2" => {
            let p = *r.pick(c.places);
            push_text(out, p);
        }
        "admin1" => push_text(out, r.pick_str(c.admin1)),
        "road" => push_text(out, r.pick_str(c.roads)),
        "date" => push_text(out, &date(r)),
        "time" => push_text(out, &time(r)),
        "n" => push_text(out, &r.range(2, 9).to_string()),
        "big" => push_text(out, &r.range(12, 480).to_string()),
        "dist" => push_text(out, &format!("{} km", r.range(2, 60))),
        "org" => push_text(out, r.pick_str(ORGS)),
        "org2" => push_text(out, r.pick_str(ORGS)),
        "group" => push_text(out, r.pick_str(GROUPS)),
        "weapon" => push_text(out, r.pick_str(WEAPONS)),
        "vehicle" => push_text(out, r.pick_str(VEHICLES)),
        "role" => push_text(out, r.pick_str(ROLES)),
        "authority" => push_text(out, r.pick_str(c.authorities)),
        "year" => push_text(out, &r.range(2019, 2024).to_string()),
        "money" => {
            let amount = r.range(2, 900) * 1000;
            let text = match r.below(4) {
                0 => format!("{} {}", c.currency, group_thousands(amount, ",")),
                1 => format!("{} {}", group_thousands(amount, " "), c.currency),
                2 => format!("USD {}", group_thousands(amount / 100, ",")),
                _ => format!("{}.{} million {}", r.range(1, 9), r.range(1, 9), c.currency),
            };
            push_text(out, &text);
        }
        "ransom" => push_text(out, &group_thousands(r.range(5, 200) * 1000, ",")),
        "victim" => pii(out, PiiKind::Name, victim(0).0.to_owned()),
        "victim2" => pii(out, PiiKind::Name, victim(1).0.to_owned()),
        "witness" => pii(out, PiiKind::Name, victim(2).0.to_owned()),
        "vupper" => pii(out, PiiKind::Name, victim(0).0.to_uppercase()),
        "vlower" => {
            let ps = parts(victim(0).0);
            pii(out, PiiKind::Name, ps[ps.len() - 1].to_lowercase());
        }
        "vpart" | "vpart2" => {
            let v = victim(if slot == "vpart" { 0 } else { 1 });
            let ps = parts(v.0);
            let part = ps[ps.len() - 1];
            push_text(out, &format!("{} ", r.pick(TITLES)));
            pii(out, PiiKind::Name, part.to_owned());
        }
        "vgiven" => {
            let ps = parts(victim(0).0);
            pii(out, PiiKind::Name, ps[0].to_owned());
        }
        "vplain" => {
            // The name typed without its diacritics.
            let plain: String = victim(0)
                .0
                .chars()
                .map(|ch| match ch {
                    'é' | 'è' | 'É' => 'e',
                    'ï' | 'î' => 'i',
                    'ọ' => 'o',
                    _ => ch,
                })
                .collect();
            pii(out, PiiKind::Name, plain);
        }
        "vscript" => {
            let v = ctx
                .victims
                .iter()
                .find(|v| v.1.is_some())
                .copied()
                .unwrap_or(victim(0));
            match v.1 {
                Some(script) => pii(out, PiiKind::Name, script.to_owned()),
                None => pii(out, PiiKind::Name, v.0.to_owned()),
            }
        }
        "phone" => {
            let p = if r.chance(50) {
                phone_international(r, c)
            } else {
                phone_local(r, c)
            };
            pii(out, PiiKind::Phone, p);
        }
        "phone_intl" => pii(out, PiiKind::Phone, phone_international(r, c)),
        "sat" => {
            pii(
                out,
                PiiKind::Phone,
                format!("+88216 {} {}", r.digits(4), r.digits(4)),
            );
        }
        "phone_local" => pii(out, PiiKind::Phone, phone_local(r, c)),
        "email" => pii(out, PiiKind::Email, email(r)),
        "url" => pii(out, PiiKind::Url, url(r)),
        "iban" => pii(out, PiiKind::Iban, iban(r, c.iban_countries)),
        "passport" => pii(out, PiiKind::IdNumber, passport(r)),
        "natid" => {
            let (word, value) = (c.natid)(r);
            push_text(out, &word);
            pii(out, PiiKind::IdNumber, value);
        }
        "case" => pii(
            out,
            PiiKind::IdNumber,
            format!("{}-{}C{}", r.digits(3), r.digits(2), r.digits(5)),
        ),
        "plate" => {
            let (word, value) = (c.plate)(r);
            push_text(out, &word);
            pii(out, PiiKind::Plate, value);
        }
        "plate_shape" => pii(out, PiiKind::Plate, (c.plate_shape)(r)),
        "coord" => {
            let (prefix, value) = coordinate(r, c);
            push_text(out, &prefix);
            pii(out, PiiKind::Coordinates, value);
            if prefix == "(" {
                push_text(out, ")");
            }
        }
        other => panic!("unknown slot {other}"),
    }
}

fn group_thousands(n: u64, separator: &str) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push_str(separator);
        }
        out.push(ch);
    }
    out
}

/// Opening sentences: what happened, where, when, to whom.
const OPENINGS: &[&str] = &[
    "On {date} at {time}, {group} ambushed a convoy of {org} on the {road} between {place} and {place2}.",
    "{n} national staff of {org} were abducted from the office compound in {place}, {admin1}, on {date}.",
    "At {time} on {date}, {weapon} struck a clearly marked {vehicle} of {org} {dist} north of {place}.",
    "The guesthouse of {org} in {place} was raided overnight on {date} by {group}, who looted {n} laptops, two satellite phones and cash.",
    "{victim}, a {role} working for {org}, was shot dead at a checkpoint near {place} on {date}.",
    "On {date}, {group} stopped a {vehicle} carrying {n} staff of {org} at an illegal roadblock on the {road}.",
    "A health facility supported by {org} in {place}, {admin1}, came under shelling on {date}; {n} patients and one nurse were injured.",
    "During the night of {date}, the residence of a {role} of {org} in {place} was broken into and the family threatened at gunpoint.",
    "{victim} ({role}, {org}) was detained by {authority} at {place} airstrip on {date} and held for {n} days without charge.",
    "Gunmen on motorbikes attacked a water-trucking team of {org} near {place} at {time}; the {role} was wounded.",
    "A warehouse of {org} in {place} holding {big} tonnes of food was looted by {group} on {date}.",
    "On {date}, a mine exploded under a {vehicle} of {org} on the {road}, {dist} from {place}.",
    "{n} staff of {org} were caught in crossfire between {authority} and {group} in {place} on {date} at {time}.",
    "A distribution of {org} in {place}, {admin1}, was disrupted on {date} when {group} fired in the air and seized the registration lists.",
    "At {time}, {authority} arrested {victim}, a {role} with {org}, at a checkpoint outside {place}.",
    "A mobile clinic team of {org} was held for {n} hours at a checkpoint on the {road} on {date}; one {role} was beaten.",
    "A joint mission of {org} and {org2} to {place} was turned back on {date} after {group} threatened the drivers.",
    "On {date}, {victim} and {victim2}, both working for {org}, went missing after leaving {place} for {place2} at {time}.",
    "The compound shared by {org} and {org2} in {place} was hit by {weapon} on {date}; {n} guards were injured.",
    "A {role} of {org} was sexually assaulted near the IDP camp in {place}, {admin1}, on {date}.",
    "In {place}, {group} carjacked a {vehicle} of {org} at {time} on {date} and released the {role} after {n} hours.",
    "Protesters accusing {org} of favouritism stormed the office in {place} on {date} and set {n} vehicles on fire.",
];

/// Sentences that carry one kind of planted item each.
const PHONE_SENTENCES: &[&str] = &[
    "Before the attack, the team leader received threatening calls from {phone}.",
    "The kidnappers later called the office from {phone} and demanded USD {ransom}.",
    "A caller using the number {phone} claimed responsibility on behalf of {group}.",
    "Witnesses say the {role} phoned the base on {phone} moments before contact was lost.",
    "Relatives were told to call {phone} or {phone_local} for proof of life.",
    "Messages demanding money were sent to staff on WhatsApp from {phone_intl} over {n} days.",
    "The abductors used the staff member's own mobile ({phone}) to contact the office.",
    "SMS threats came from {phone_local} and {phone_intl} in the week before the incident.",
    "The security focal point can be reached on {phone_intl} for follow-up.",
    "The Thuraya number {phone} was switched off after {time}.",
    "Contact was made with the commander via {phone_local}, who denied involvement.",
    "Callers from {phone_local} warned the office to stop work in {place}.",
    "The sat phone (Thuraya {sat}) of the team was seized.",
    "Tel: {phone_local} / {phone_intl} (driver's family).",
    "He kept calling {phone}, {phone_local} and {phone_intl} until {time}.",
];
const EMAIL_SENTENCES: &[&str] = &[
    "A threatening email was sent from {email} to the country director on {date}.",
    "The compromised account {email} was then used to send phishing messages to {n} partners.",
    "Follow-up information can be requested from {email}.",
    "The victim's personal address ({email}) appeared in a leaked distribution list.",
    "Fake job offers in the name of {org} circulated from {email} and {email}.",
];
const URL_SENTENCES: &[&str] = &[
    "A video of the attack circulated on social media ({url}) within hours.",
    "Disinformation accusing {org} of spying was posted at {url} and shared widely.",
    "Photos of the detained staff appeared at {url} the next day.",
    "A local outlet published the staff list of {org} at {url} on {date}.",
    "The claim of responsibility was posted on {url}.",
];
const IBAN_SENTENCES: &[&str] = &[
    "The abductors demanded that a ransom of USD {ransom} be transferred to {iban}.",
    "Fraudulent invoices asked for payment to account {iban} instead of the supplier's usual account.",
    "Funds were diverted to {iban} after the email compromise.",
    "A fake supplier requested an advance of {money} on IBAN {iban}.",
];
const ID_SENTENCES: &[&str] = &[
    "The {role}'s {natid} and agency badge were confiscated at the checkpoint.",
    "Soldiers photographed his passport ({passport}) before releasing him.",
    "She was detained after officials claimed her passport no. {passport} had been forged.",
    "The {natid} of the driver was found in the burnt vehicle.",
    "The family, registered under UNHCR case {case}, had been threatened twice before.",
    "Investigators listed the victim's {natid} in their report.",
];
const PLATE_SENTENCES: &[&str] = &[
    "The attackers drove off in the agency's {vehicle} ({plate}).",
    "A pick-up with {plate} was seen following the convoy from {place}.",
    "The stolen vehicle, {plate}, was later found abandoned near {place2}.",
    "A {vehicle} {plate_shape} blocked the road ahead of the convoy.",
    "The vehicle {plate_shape} was hit by small-arms fire but the driver reached {place}.",
    "Checkpoint staff noted the {vehicle} as {plate_shape} in their log.",
];
const COORD_SENTENCES: &[&str] = &[
    "The IED detonated at {coord}, about {dist} from the last checkpoint.",
    "The team was last located by GPS tracker at {coord}.",
    "The compound at {coord} was hit by two mortar rounds.",
    "Satellite imagery shows the burned warehouse at {coord}.",
    "The vehicle was found at {coord} on {date}.",
];
const NAME_SENTENCES: &[&str] = &[
    "{victim} suffered gunshot wounds and was evacuated to the hospital in {place}.",
    "{vpart} was released after {n} days in captivity.",
    "Colleagues describe {vgiven} as a respected {role} in {place}.",
    "The body of {victim2} was found {dist} from the vehicle on {date}.",
    "{vupper} REMAINS MISSING.",
    "Local media named the victim as {vscript}.",
    "The family of {vpart} was informed by the office the same evening.",
    "A witness, {witness}, said the gunmen spoke the local language.",
    "Community leaders negotiated the release of {vpart2} on {date}.",
    "{vplain} was treated for shock and relocated to {place2}.",
    "(data entry note: victim surname {vlower}, see annex)",
    "{victim}'s colleagues and {vpart2}'s brother witnessed the abduction.",
    "In a statement, relatives of {vscript} asked for the return of the body.",
];
/// Closing sentences: consequences, without personal data but with plenty of numbers.
const CLOSINGS: &[&str] = &[
    "{org} suspended movements in {admin1} for {n} days.",
    "The incident was reported to UNDSS and the police; no arrests have been made.",
    "Operations in {place} resumed on {date} with armed escorts.",
    "The area remains under a curfew from 18:00 to 06:00.",
    "This is the {n}th incident affecting aid workers on the {road} since January {year}.",
    "Movement on the {road} remains restricted; {org2} relocated {n} international staff to {place2}.",
    "Fuel prices in {place} rose to {money} per drum after the attack.",
    "Between 2019-2023, {big} similar incidents were recorded in {admin1}.",
    "Losses are estimated at {money}, including {n} vehicles and a generator.",
    "The UN and INGO forum in {place} met on {date} at {time} to review the SRM.",
    "The attackers used {weapon}; a Mi-17 evacuated {n} wounded at {time}.",
    "Services for {big} IDPs in {place} were suspended for {n} weeks.",
    "The SiND code {year}-{big} was assigned; AWSD will be updated in week {n}.",
    "The convoy had informed the checkpoint at KM {n} on the {road} at {time}.",
];

/// Parses the hand-written narratives (see the header of `anonymiser_handwritten.txt`).
pub fn handwritten() -> Vec<Narrative> {
    let source = include_str!("anonymiser_handwritten.txt");
    let mut narratives = Vec::new();
    for block in source.split("\n---\n") {
        let mut names = Vec::new();
        let mut lines = Vec::new();
        for line in block.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some(list) = line.strip_prefix("names:") {
                names = list.split('|').map(|n| n.trim().to_owned()).collect();
            } else {
                lines.push(line);
            }
        }
        let text = lines.join("\n");
        let mut segments = Vec::new();
        let mut rest = text.as_str();
        while let Some(open) = rest.find('⟦') {
            push_text(&mut segments, &rest[..open]);
            let close = open + rest[open..].find('⟧').expect("closed item");
            let item = &rest[open + '⟦'.len_utf8()..close];
            let (kind, value) = item.split_once('|').expect("KIND|text");
            let kind = match kind {
                "EMAIL" => PiiKind::Email,
                "PHONE" => PiiKind::Phone,
                "URL" => PiiKind::Url,
                "IBAN" => PiiKind::Iban,
                "ID_NUMBER" => PiiKind::IdNumber,
                "PLATE" => PiiKind::Plate,
                "COORDINATES" => PiiKind::Coordinates,
                "NAME" => PiiKind::Name,
                other => panic!("unknown kind {other}"),
            };
            pii(&mut segments, kind, value.to_owned());
            rest = &rest[close + '⟧'.len_utf8()..];
        }
        push_text(&mut segments, rest);
        assert!(!names.is_empty(), "narrative without names: {text}");
        narratives.push(Narrative {
            country: "hand-written",
            segments,
            names,
        });
    }
    narratives
}

/// Sentences full of numbers, codes and words that sit near personal data in real reports
/// ("phone", "registration", "ID", "case") but are not personal data: every one must survive.
const NOISE: &[&str] = &[
    "Two satellite phones and USD 4,500 were taken; the phone network was down from 14:00 to 18:30.",
    "The vehicle registration process at the border took {n} days; 12 trucks with 450 tonnes were cleared.",
    "Staff ID checks at checkpoint {n} delayed 23 vehicles for 2 hours.",
    "Resolution 2730 (2024) and UNSCR 1502 were cited by the Humanitarian Coordinator on {date}.",
    "The 2021-2023 trend shows 1 200 000 people in need in {admin1}.",
    "The case load rose from 1,250 to 3,400 between weeks 12 and 16.",
    "Passport control at the airport reopened at 0800 hrs on {date}.",
    "A closure of the A1 road and a curfew from 1800-0600 hrs remain in force.",
    "The cash distribution of {money} per household reached 2 340 households.",
    "Mi-8 and Mi-17 helicopters, AK-47 and PKM rifles and 120 mm mortars were reported in {admin1}.",
    "The team was 12.5 km from town, at an altitude of 1 850 m.",
    "Version 3.2 of the SRM, dated 2023-11-04, rates {place} as level 5 (high).",
    "Phone credit worth {money} was stolen along with {n} handsets.",
    "Contact with the convoy was lost at 15:45 and restored at 16:20.",
    "Call signs Alpha 1 and Bravo 2 were used on VHF channel 16.",
    "The helpline received 1 250 calls in March 2023.",
    "The ID distribution for 4 500 beneficiaries was postponed to 12.06.2023.",
    "Registration of 12 500 IDPs in {n} camps was completed before the attack.",
    "Plates and registration papers of {n} trucks were checked at KM 45.",
    "The M23 and allied groups control 60% of the territory since 2022-2023.",
    "Between 1990 and 2020, {big} aid workers were killed in {admin1} (AWSD, 2024).",
    "COVID-19 rules and the H5N1 alert limited staff movements to 25 people per day.",
    "The incident occurred 48 hours after the 3rd anniversary of the 2021 agreement.",
    "Around 0630 hrs, the case officer called the police at least 3 times.",
    "A 4x4 with 6 passengers and 2 drivers left the base at 07:15 on {date}.",
    "Temperatures reached 45.5 degrees; 1.5 million people face IPC Phase 4.",
];

/// Generates `count` narratives, cycling through the countries and through the kinds of planted
/// data so that every country and every kind is well represented.
pub fn generate(count: usize) -> Vec<Narrative> {
    let countries = countries();
    let kinds: [&[&str]; 8] = [
        PHONE_SENTENCES,
        EMAIL_SENTENCES,
        URL_SENTENCES,
        IBAN_SENTENCES,
        ID_SENTENCES,
        PLATE_SENTENCES,
        COORD_SENTENCES,
        NAME_SENTENCES,
    ];
    let mut narratives = Vec::with_capacity(count);
    for index in 0..count {
        let mut r = Rng(0x5EED_0000 + index as u64 * 7919);
        let country = &countries[index % countries.len()];
        let mut victims = Vec::new();
        let wanted = 1 + r.below(3);
        while victims.len() < wanted {
            let person = *r.pick(country.people);
            if !victims.contains(&person) {
                victims.push(person);
            }
        }
        let mut segments = Vec::new();
        let mut ctx = Ctx {
            r: &mut r,
            c: country,
            victims: victims.clone(),
        };

        let opening = *ctx.r.pick(OPENINGS);
        expand(opening, &mut ctx, &mut segments);
        // Phone and name sentences are the most varied, so every narrative gets one of each
        // plus two or three of the other kinds, in turn.
        let mut chosen = vec![0usize, 7];
        let extra = 2 + ctx.r.below(2);
        for k in 0..extra {
            let kind = 1 + (index + k * 3) % 6;
            if !chosen.contains(&kind) {
                chosen.push(kind);
            }
        }
        // Shuffle the order a little.
        for i in (1..chosen.len()).rev() {
            let j = ctx.r.below(i + 1);
            chosen.swap(i, j);
        }
        for kind in chosen {
            push_text(&mut segments, if ctx.r.chance(15) { "\n" } else { " " });
            let sentence = *ctx.r.pick(kinds[kind]);
            expand(sentence, &mut ctx, &mut segments);
        }
        push_text(&mut segments, " ");
        let noise = *ctx.r.pick(NOISE);
        expand(noise, &mut ctx, &mut segments);
        push_text(&mut segments, " ");
        let closing = *ctx.r.pick(CLOSINGS);
        expand(closing, &mut ctx, &mut segments);

        let mut names: Vec<String> = Vec::new();
        for (latin, script) in &victims {
            // The annex lists names as the reporter typed them: sometimes in the local script
            // too, sometimes with diacritics the narrative lacks.
            names.push((*latin).to_owned());
            if let Some(script) = script {
                names.push((*script).to_owned());
            }
        }
        narratives.push(Narrative {
            country: country.name,
            segments,
            names,
        });
    }
    narratives
}
