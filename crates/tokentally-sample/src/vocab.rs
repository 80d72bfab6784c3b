//! Word lists and sentence templates.
//!
//! Kept as data so the text stays varied enough to exercise the tokenizer (several
//! scripts, emoji, code, tables) while compressing like real prompts do: real
//! traffic repeats itself heavily, and the sample has to gzip to a few megabytes.

/// Vocabulary of one business domain; `{…}` slots in templates draw from it.
#[derive(Debug)]
pub(crate) struct Topic {
    pub nouns: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub adjectives: &'static [&'static str],
    /// Prefix of reference codes (`{c}`), e.g. `ORD` for `ORD-48213`.
    pub code: &'static str,
    /// What users of this domain ask.
    pub questions: &'static [&'static str],
}

pub(crate) const HR: Topic = Topic {
    nouns: &[
        "vacation balance",
        "payslip",
        "overtime claim",
        "expense report",
        "parental leave request",
        "pension contribution",
        "tax form",
        "bonus payment",
        "shift schedule",
        "sick note",
        "relocation allowance",
        "salary band",
        "travel reimbursement",
        "probation review",
        "benefits enrollment",
        "meal voucher",
        "commuter subsidy",
        "holiday calendar",
    ],
    verbs: &[
        "submit",
        "approve",
        "review",
        "update",
        "cancel",
        "download",
        "reconcile",
        "correct",
        "check",
    ],
    adjectives: &[
        "pending",
        "approved",
        "quarterly",
        "annual",
        "retroactive",
        "gross",
        "net",
        "regional",
        "missing",
    ],
    code: "HR",
    questions: &[
        "How many days are left on my {n} for this year?",
        "Why is my {n} lower this month than in September?",
        "Can you explain the {a} {n} line on my payslip?",
        "I need to {v} my {n} before {w}, what is the process?",
        "Who approves a {n} above {d}00 EUR?",
        "My {n} still shows as {a} after {d} days, can you check?",
        "Is the {m} taxed differently from the {n}?",
        "What happens to my {n} if I {v} the {m}?",
    ],
};

pub(crate) const SUPPORT: Topic = Topic {
    nouns: &[
        "order",
        "refund",
        "parcel",
        "tracking number",
        "invoice",
        "subscription",
        "warranty claim",
        "return label",
        "delivery slot",
        "loyalty points",
        "payment method",
        "replacement part",
        "gift card",
        "store credit",
        "delivery address",
    ],
    verbs: &[
        "track",
        "refund",
        "cancel",
        "replace",
        "reschedule",
        "update",
        "confirm",
        "escalate",
    ],
    adjectives: &[
        "delayed",
        "damaged",
        "missing",
        "duplicate",
        "express",
        "partial",
        "expired",
        "open",
    ],
    code: "ORD",
    questions: &[
        "My {n} {c} is {a}, where is it?",
        "I was charged twice for {c}, can you {v} one of them?",
        "Can I {v} the {n} for order {c}?",
        "The {m} I received is {a}. What now?",
        "How long does a {n} take to arrive?",
        "Please {v} my {n}, I moved last week.",
        "hi, {n} {c} says delivered but nothing here",
        "Why was my {n} declined?",
    ],
};

pub(crate) const LEGAL: Topic = Topic {
    nouns: &[
        "indemnification clause",
        "termination notice",
        "liability cap",
        "governing law",
        "confidentiality obligation",
        "service level",
        "renewal term",
        "payment schedule",
        "force majeure event",
        "data processing addendum",
        "audit right",
        "non-solicitation clause",
    ],
    verbs: &[
        "limit",
        "extend",
        "terminate",
        "assign",
        "waive",
        "amend",
        "notify",
        "indemnify",
    ],
    adjectives: &[
        "mutual",
        "unilateral",
        "material",
        "reasonable",
        "exclusive",
        "automatic",
        "written",
    ],
    code: "CTR",
    questions: &["Review this agreement and list every clause that deviates from our standard terms."],
};

pub(crate) const CODE: Topic = Topic {
    nouns: &[
        "function",
        "pull request",
        "unit test",
        "null check",
        "error handler",
        "retry loop",
        "database query",
        "migration",
        "config file",
        "API client",
        "mutex",
        "iterator",
        "cache",
    ],
    verbs: &[
        "refactor", "rename", "extract", "inline", "remove", "guard", "memoize", "document",
    ],
    adjectives: &[
        "blocking",
        "unused",
        "nested",
        "redundant",
        "unchecked",
        "flaky",
        "async",
        "public",
    ],
    code: "PR",
    questions: &["Please review this change and point out bugs, missing tests and style issues."],
};

pub(crate) const KB: Topic = Topic {
    nouns: &[
        "VPN client",
        "password reset",
        "MFA device",
        "laptop image",
        "printer queue",
        "SharePoint site",
        "Teams channel",
        "license",
        "firewall rule",
        "backup job",
        "shared mailbox",
        "Wi-Fi profile",
    ],
    verbs: &[
        "reset",
        "install",
        "request",
        "renew",
        "configure",
        "restore",
        "enroll",
        "unlock",
    ],
    adjectives: &[
        "managed",
        "expired",
        "corporate",
        "guest",
        "encrypted",
        "shared",
        "legacy",
    ],
    code: "KB",
    questions: &[
        "How do I {v} my {n}?",
        "The {n} says my {m} is {a}, what should I do?",
        "Who can {v} a {a} {n} for a new hire?",
        "Where is the guide to {v} the {n} on a {a} laptop?",
    ],
};

pub(crate) const MARKETING: Topic = Topic {
    nouns: &[
        "product launch",
        "newsletter",
        "landing page",
        "tagline",
        "social post",
        "campaign",
        "webinar invite",
        "email subject line",
        "customer story",
        "banner ad",
    ],
    verbs: &[
        "launch",
        "discover",
        "save",
        "upgrade",
        "join",
        "explore",
        "switch",
        "celebrate",
    ],
    adjectives: &[
        "bold",
        "playful",
        "sustainable",
        "premium",
        "effortless",
        "smart",
        "seasonal",
    ],
    code: "CMP",
    questions: &[
        "Write {d} variants of a {a} {n} for our autumn {m}.",
        "Draft a {n} announcing the {a} {m}, max 60 words.",
        "Rewrite this {n} in a more {a} tone: \"{v} more, worry less.\"",
    ],
};

pub(crate) const FAQ: Topic = Topic {
    nouns: &[
        "opening hours",
        "parking permit",
        "library card",
        "recycling schedule",
        "passport appointment",
        "bus pass",
        "fee waiver",
        "building permit",
        "school enrollment",
        "waste collection",
    ],
    verbs: &["apply for", "renew", "cancel", "pay", "book", "change"],
    adjectives: &["temporary", "annual", "reduced", "online", "new"],
    code: "CASE",
    questions: &[
        "What are the {n}?",
        "How do I {v} a {n}?",
        "Can I {v} my {n} online?",
        "How much does a {a} {n} cost?",
        "{n}?",
    ],
};

pub(crate) const EXTRACTION: Topic = Topic {
    nouns: &[
        "invoice",
        "purchase order",
        "line item",
        "VAT number",
        "due date",
        "supplier",
        "total amount",
        "delivery note",
        "credit note",
        "payment terms",
    ],
    verbs: &["extract", "validate", "normalize", "match"],
    adjectives: &["net", "gross", "foreign", "recurring", "overdue"],
    code: "INV",
    questions: &["Extract the invoice fields from the document below."],
};

pub(crate) const ASSISTANT: Topic = Topic {
    nouns: &[
        "meeting",
        "calendar invite",
        "action item",
        "status update",
        "project plan",
        "budget review",
        "one-on-one",
        "design doc",
        "roadmap",
        "retrospective",
        "steering committee",
        "offsite",
    ],
    verbs: &[
        "summarize",
        "reschedule",
        "draft",
        "prepare",
        "share",
        "follow up on",
        "decline",
    ],
    adjectives: &[
        "weekly",
        "quarterly",
        "urgent",
        "cross-team",
        "optional",
        "recurring",
    ],
    code: "MTG",
    questions: &[
        "{v} my {a} {n} with {p}.",
        "What did we decide in the {n} on {w}?",
        "Can you {v} the {n} and the {m} for tomorrow?",
        "Find a slot next week for a {a} {n} with {p} and {q}.",
        "List my open {n}s from the {a} {m}.",
    ],
};

pub(crate) const SMOKE: Topic = Topic {
    nouns: &["health check"],
    verbs: &["ping"],
    adjectives: &["synthetic"],
    code: "T",
    questions: &["ping", "Say hello.", "What is 2+2?", "Reply with OK."],
};

/// Reply sentences; `{…}` are slots filled from the topic.
pub(crate) const REPLY_TEMPLATES: &[&str] = &[
    "Please {v} the {a} {n} by {w}.",
    "The {n} shows {d} open items, so {v} the {m} first.",
    "According to the policy, you can {v} up to {d} {m}s per quarter.",
    "I recommend that you {v} the {n} and then check the {a} {m}.",
    "If the {n} is {a}, the {m} is updated within {d} business days.",
    "Your {n} was last changed on {w}; {p} is the contact for the next review.",
    "Here is a short summary of the {a} {n}:",
    "Note that this only applies to {a} {m}s.",
    "{p} confirmed that we can {v} the {n} before the {m} starts.",
    "There are {d} {a} {m}s linked to reference {c}.",
    "You do not need to {v} the {n} again.",
    "Once the {n} is {a}, you will receive a confirmation email.",
    "I could not find a {a} {n} for {c}; could you double-check the number?",
    "To {v} the {n}, open the portal, select {c} and follow the steps.",
    "Let me know if you want me to {v} the {m} as well.",
];

/// Rules of long system prompts (their length is what makes prompt caching apply).
pub(crate) const RULE_TEMPLATES: &[&str] = &[
    "Always {v} the {n} before you answer questions about the {m}.",
    "Never disclose the {a} {n} of another person; refer the user to {p} instead.",
    "If the user asks about the {n}, explain that {a} {m}s are processed within {d} business days.",
    "When the {n} is {a}, ask for the {c} reference and {v} the {m}.",
    "Use the {m} table below as the single source of truth for every {a} {n}.",
    "Do not {v} a {n} on behalf of the user; give the link to the self-service portal.",
    "Quote the relevant section number whenever you cite the {a} {n} policy.",
];

pub(crate) const PEOPLE: &[(&str, &str)] = &[
    ("Anna Lindqvist", "anna.lindqvist"),
    ("Jonas Berg", "jonas.berg"),
    ("Priya Nair", "priya.nair"),
    ("Mateo García", "mateo.garcia"),
    ("Chloé Martin", "chloe.martin"),
    ("Lukas Schneider", "lukas.schneider"),
    ("Aiko Tanaka", "aiko.tanaka"),
    ("Fatima Al-Sayed", "fatima.alsayed"),
    ("Olivia Brown", "olivia.brown"),
    ("Noah Müller", "noah.mueller"),
    ("Sofia Rossi", "sofia.rossi"),
    ("Erik Johansson", "erik.johansson"),
    ("Wei Zhang", "wei.zhang"),
    ("Amara Okafor", "amara.okafor"),
    ("Lars Nilsson", "lars.nilsson"),
    ("Isabel Costa", "isabel.costa"),
];

pub(crate) const WHEN: &[&str] = &[
    "Friday",
    "next Monday",
    "the end of the month",
    "14 October",
    "the 25th",
    "tomorrow",
    "the next payroll run",
    "Q4",
    "Wednesday afternoon",
    "3 November",
];

pub(crate) const EMOJI: &[&str] = &[
    "🙂", "🙏", "👍", "🚚", "📦", "😅", "🎉", "❤️", "🤔", "✅", "😡", "⏰",
];

/// A language the support desk and the marketing team work in besides English.
#[derive(Debug)]
pub(crate) struct Language {
    pub name: &'static str,
    /// What customers write.
    pub questions: &'static [&'static str],
    /// What the support assistant answers.
    pub replies: &'static [&'static str],
    /// Marketing copy (empty: no campaigns in this language).
    pub copy: &'static [&'static str],
}

pub(crate) const LANGUAGES: &[Language] = &[
    Language {
        name: "German",
        questions: &[
            "Ich habe meine Bestellung vor zwei Wochen aufgegeben und noch nichts erhalten.",
            "Können Sie mir bitte die Rechnung erneut zusenden?",
        ],
        replies: &[
            "Vielen Dank für Ihre Nachricht! Ihre Sendung ist unterwegs und sollte in zwei Werktagen ankommen.",
            "Ich habe Ihnen die Rechnung soeben erneut per E-Mail geschickt.",
        ],
        copy: &[
            "Entdecken Sie jetzt unsere Herbstkollektion – nachhaltig, smart und überraschend günstig.",
            "Nur diese Woche: 20 % Rabatt auf alle Premium-Abos.",
        ],
    },
    Language {
        name: "French",
        questions: &[
            "Bonjour, ma commande n'est toujours pas arrivée. Pouvez-vous vérifier ?",
            "Pouvez-vous m'envoyer une nouvelle étiquette de retour ?",
        ],
        replies: &[
            "Merci pour votre patience ! Votre colis est en cours de livraison.",
            "Je vous ai envoyé une nouvelle étiquette de retour par e-mail.",
        ],
        copy: &[
            "Découvrez notre nouvelle collection d'automne : élégante, durable et pensée pour vous.",
            "Rejoignez plus de 10 000 clients satisfaits dès aujourd'hui.",
        ],
    },
    Language {
        name: "Spanish",
        questions: &[
            "Hola, necesito cambiar la dirección de entrega de mi pedido.",
            "¿Cuánto tarda el reembolso en aparecer en mi cuenta?",
        ],
        replies: &[
            "¡Gracias por escribirnos! He actualizado la dirección de entrega.",
            "El reembolso suele tardar entre 3 y 5 días hábiles.",
        ],
        copy: &[
            "Descubre la nueva colección de otoño: sostenible, práctica y hecha para ti.",
            "¡Únete hoy y ahorra un 20 % en tu primer pedido!",
        ],
    },
    Language {
        name: "Japanese",
        questions: &[
            "注文した商品がまだ届いていません。確認していただけますか？",
            "返品の手続きを教えてください。",
        ],
        replies: &[
            "ご連絡ありがとうございます。配送状況を確認したところ、明日到着予定です。",
            "返品ラベルをメールでお送りしました。",
        ],
        copy: &[],
    },
    Language {
        name: "Swedish",
        questions: &["Hej! Jag vill avsluta min prenumeration, hur gör jag?"],
        replies: &["Tack för ditt meddelande! Din prenumeration avslutas vid periodens slut."],
        copy: &[],
    },
    Language {
        name: "Chinese",
        questions: &["请问我的退款什么时候到账？"],
        replies: &["您的退款已处理，预计3到5个工作日到账。"],
        copy: &[],
    },
    Language {
        name: "Portuguese",
        questions: &["Olá, o meu pedido chegou danificado. O que devo fazer?"],
        replies: &["Lamentamos o ocorrido! Enviámos um produto de substituição hoje."],
        copy: &[],
    },
];

/// Languages with marketing copy (the first ones of [`LANGUAGES`]).
pub(crate) const CAMPAIGN_LANGUAGES: usize = 3;

pub(crate) const CONTRACT_PARTIES: &[&str] = &[
    "Contoso Ltd.",
    "Fabrikam Inc.",
    "Northwind Traders",
    "Tailspin Toys AB",
    "Woodgrove Bank",
    "Litware GmbH",
    "Adventure Works SA",
];

pub(crate) const CLAUSE_TEMPLATES: &[&str] = &[
    "{P} shall {v} the other party in writing no later than {d} days before the end of the {a} {n}.",
    "The {n} is subject to a {a} cap equal to {d} times the fees paid in the preceding twelve months.",
    "Either party may {v} this Agreement with {d} months' {a} notice.",
    "{P} may not {v} its rights under the {n} without prior written consent.",
    "The {n} renews automatically for successive periods of {d} months unless terminated.",
    "Any dispute arising out of the {n} shall be governed by the laws of {L}.",
    "{P} grants a {a} right to audit the {n} once per calendar year upon {d} days' notice.",
];

pub(crate) const JURISDICTIONS: &[&str] =
    &["Sweden", "England and Wales", "the State of New York", "Germany"];

pub(crate) const KB_PASSAGES: &[&str] = &[
    "To reset your password, go to aka.ms/sspr, verify with your MFA device and choose a new password of at least 14 characters.",
    "The corporate VPN client connects automatically on managed laptops. Guest devices must use the web portal instead.",
    "New hires receive a laptop with the standard image; additional software is requested through the service portal.",
    "Printers are mapped by floor. If a print job is stuck, clear the queue from the Print Management page.",
    "Shared mailboxes are requested by a team lead and are created within two business days.",
    "Backups of OneDrive and SharePoint run every night; restores older than 30 days need a ticket.",
    "Firewall rule changes require a change request with a business justification and an owner.",
    "Licenses for Visio and Project are assigned on request and reviewed every quarter.",
];
