//! Seeded, realistic fixture data for both sandbox upstreams, and the fixed demo tenants.

/// Knobs for fixture generation. The same config always yields the same data.
#[derive(Clone, Debug)]
pub struct FixtureConfig {
    pub seed: u64,
    /// Multiplies catalogue sizes and per-user counts; 1.0 is the documented default.
    pub scale: f64,
}

impl Default for FixtureConfig {
    fn default() -> Self {
        FixtureConfig {
            seed: 0x5EED_F10E,
            scale: 1.0,
        }
    }
}

impl FixtureConfig {
    /// `base` scaled, never below `min`.
    pub fn scaled(&self, base: usize, min: usize) -> usize {
        ((base as f64 * self.scale).round() as usize).max(min)
    }
}

/// A demo tenant: the same person has an account on both vendors.
#[derive(Clone, Debug)]
pub struct DemoUser {
    pub name: &'static str,
    pub email: &'static str,
    /// Appy Pie access token (`ACCESSTOKEN` header).
    pub appypie_token: &'static str,
    /// Appy Pie `tokenKey` / `secretKey` pair that yields `appypie_token`.
    pub token_key: &'static str,
    pub secret_key: &'static str,
    /// Appmixer bearer token.
    pub appmixer_token: &'static str,
    /// Appmixer sign-in: `username` (or `email`) and `password`.
    pub username: &'static str,
    pub password: &'static str,
}

/// The fixed demo tenants, documented in the README.
pub const DEMO_USERS: [DemoUser; 3] = [
    DemoUser {
        name: "Alice Moreau",
        email: "alice@example.com",
        appypie_token: "appypie-demo-alice",
        token_key: "alice-token-key",
        secret_key: "alice-secret-key",
        appmixer_token: "appmixer-demo-alice",
        username: "alice@example.com",
        password: "alice-password",
    },
    DemoUser {
        name: "Bob Okafor",
        email: "bob@example.com",
        appypie_token: "appypie-demo-bob",
        token_key: "bob-token-key",
        secret_key: "bob-secret-key",
        appmixer_token: "appmixer-demo-bob",
        username: "bob@example.com",
        password: "bob-password",
    },
    DemoUser {
        name: "Chen Wei",
        email: "chen@example.com",
        appypie_token: "appypie-demo-chen",
        token_key: "chen-token-key",
        secret_key: "chen-secret-key",
        appmixer_token: "appmixer-demo-chen",
        username: "chen@example.com",
        password: "chen-password",
    },
];

/// Start of the fixture timeline (2025-01-06T09:00:00Z); timestamps spread over the next year.
pub const EPOCH_MS: i64 = 1_736_154_000_000;
pub const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;

/// Appy Pie categories, each with nouns its apps deal in.
#[rustfmt::skip]
pub const APPYPIE_CATEGORIES: [(&str, &[&str]); 8] = [
    ("Email", &["Email", "Label", "Draft", "Attachment"]),
    ("CRM", &["Contact", "Deal", "Lead", "Company", "Note"]),
    ("Marketing", &["Subscriber", "Campaign", "Tag", "List"]),
    ("Communication", &["Message", "Channel", "Call", "Meeting"]),
    ("Productivity", &["Task", "Project", "Event", "Card", "Page"]),
    ("Files & Storage", &["File", "Folder", "Row", "Record"]),
    ("Payments & E-commerce", &["Order", "Customer", "Payment", "Product", "Invoice"]),
    ("Forms & Surveys", &["Response", "Form", "Survey"]),
];

/// Appy Pie apps: name and category index.
#[rustfmt::skip]
pub const APPYPIE_APPS: [(&str, usize); 60] = [
    ("Gmail", 0), ("Outlook", 0), ("Zoho Mail", 0), ("Yahoo Mail", 0), ("SendGrid", 0),
    ("Mailgun", 0), ("Postmark", 0),
    ("Salesforce", 1), ("HubSpot", 1), ("Pipedrive", 1), ("Zoho CRM", 1), ("Freshsales", 1),
    ("Copper", 1), ("Insightly", 1), ("Agile CRM", 1),
    ("Mailchimp", 2), ("ActiveCampaign", 2), ("Constant Contact", 2), ("ConvertKit", 2),
    ("Klaviyo", 2), ("Drip", 2), ("Moosend", 2), ("Brevo", 2),
    ("Slack", 3), ("Microsoft Teams", 3), ("Discord", 3), ("Telegram", 3), ("Twilio", 3),
    ("WhatsApp Business", 3), ("Zoom", 3), ("Intercom", 3),
    ("Trello", 4), ("Asana", 4), ("Todoist", 4), ("Notion", 4), ("ClickUp", 4),
    ("Monday.com", 4), ("Google Calendar", 4), ("Evernote", 4),
    ("Google Drive", 5), ("Dropbox", 5), ("Box", 5), ("OneDrive", 5), ("Google Sheets", 5),
    ("Airtable", 5), ("Smartsheet", 5),
    ("Stripe", 6), ("PayPal", 6), ("Shopify", 6), ("WooCommerce", 6), ("Square", 6),
    ("BigCommerce", 6), ("Chargebee", 6),
    ("Typeform", 7), ("Google Forms", 7), ("Jotform", 7), ("SurveyMonkey", 7), ("Wufoo", 7),
    ("Formstack", 7), ("Tally", 7),
];

/// Input fields a trigger or action may ask for: key, label, is a select, is dynamic.
#[rustfmt::skip]
pub const FIELD_POOL: [(&str, &str, bool, bool); 10] = [
    ("folder", "Folder", true, true),
    ("channel", "Channel", true, true),
    ("list", "List", true, true),
    ("status", "Status", true, false),
    ("email", "Email Address", false, false),
    ("name", "Name", false, false),
    ("subject", "Subject", false, false),
    ("message", "Message", false, false),
    ("amount", "Amount", false, false),
    ("tags", "Tags", false, false),
];

/// Appmixer apps: app name (module, or service without modules), label, category, nouns.
#[rustfmt::skip]
pub const APPMIXER_APPS: [(&str, &str, &str, &[&str]); 30] = [
    ("appmixer.google.gmail", "Gmail", "communication", &["Email", "Label", "Draft"]),
    ("appmixer.google.calendar", "Google Calendar", "productivity", &["Event", "Calendar"]),
    ("appmixer.google.drive", "Google Drive", "storage", &["File", "Folder"]),
    ("appmixer.google.sheets", "Google Sheets", "productivity", &["Row", "Worksheet"]),
    ("appmixer.google.tasks", "Google Tasks", "productivity", &["Task", "TaskList"]),
    ("appmixer.microsoft.outlook", "Outlook", "communication", &["Email", "Event"]),
    ("appmixer.microsoft.teams", "Microsoft Teams", "communication", &["Message", "Channel"]),
    ("appmixer.microsoft.onedrive", "OneDrive", "storage", &["File", "Folder"]),
    ("appmixer.slack", "Slack", "communication", &["Message", "Channel", "Reaction"]),
    ("appmixer.twilio.sms", "Twilio SMS", "communication", &["SMS", "Call"]),
    ("appmixer.dropbox", "Dropbox", "storage", &["File", "Folder"]),
    ("appmixer.salesforce", "Salesforce", "crm", &["Lead", "Opportunity", "Account"]),
    ("appmixer.hubspot", "HubSpot", "crm", &["Contact", "Deal", "Company"]),
    ("appmixer.pipedrive", "Pipedrive", "crm", &["Deal", "Person", "Activity"]),
    ("appmixer.mailchimp", "Mailchimp", "marketing", &["Subscriber", "Campaign"]),
    ("appmixer.trello", "Trello", "productivity", &["Card", "Board", "List"]),
    ("appmixer.asana", "Asana", "productivity", &["Task", "Project"]),
    ("appmixer.jira", "Jira", "developer", &["Issue", "Comment", "Sprint"]),
    ("appmixer.github", "GitHub", "developer", &["Issue", "PullRequest", "Release"]),
    ("appmixer.zendesk", "Zendesk", "support", &["Ticket", "User"]),
    ("appmixer.shopify", "Shopify", "ecommerce", &["Order", "Product", "Customer"]),
    ("appmixer.stripe", "Stripe", "ecommerce", &["Charge", "Customer", "Invoice"]),
    ("appmixer.airtable", "Airtable", "productivity", &["Record", "Table"]),
    ("appmixer.calendly", "Calendly", "productivity", &["Invitee", "EventType"]),
    ("appmixer.typeform", "Typeform", "forms", &["Response", "Form"]),
    ("appmixer.discord", "Discord", "communication", &["Message", "Member"]),
    ("appmixer.utils.http", "HTTP", "utilities", &["Request", "Uptime"]),
    ("appmixer.utils.controls", "Controls", "utilities", &["Condition", "Counter"]),
    ("appmixer.utils.timers", "Timers", "utilities", &["Timer", "Delay"]),
    ("appmixer.utils.email", "Email", "utilities", &["Email"]),
];

/// Verbs for actions; triggers are `New<Noun>` / `Updated<Noun>`.
pub const ACTION_VERBS: [&str; 5] = ["Create", "Update", "Send", "Find", "Delete"];

/// Flow names are made of one of these and an app label.
#[rustfmt::skip]
pub const FLOW_PURPOSES: [&str; 8] = [
    "Sync", "Notify team about", "Archive", "Back up", "Escalate", "Route", "Digest of",
    "Alert on",
];

/// `base` with ` 2`, ` 3`, … appended when the table is cycled past its end.
pub fn cycled(base: &str, round: usize) -> String {
    if round == 0 {
        base.to_string()
    } else {
        format!("{base} {}", round + 1)
    }
}

/// `Foo Bar.com` -> `foo-bar-com`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}
