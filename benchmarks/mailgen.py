"""Deterministic generator of realistic raw service-desk mails for the intake throughput benchmark.

``generate_mails(n, seed=s)`` always returns the same list of raw RFC 5322 messages (CRLF line endings)
for the same arguments. The mix, roughly:

* 45 % plain text (English / Malay IT-support texts composed from phrase pools, 300 B - 3 KB of text),
* 25 % multipart/alternative text + Outlook-like HTML (quoted-printable),
* 10 % multipart/mixed with 1-2 base64 attachments (PDF / PNG / DOCX-like blobs of 5 - 200 KB),
* 14 % replies (``Re:`` subject, In-Reply-To/References to an earlier generated mail of the same sender),
* 5 % legacy charsets sent as raw 8bit (windows-1252, iso-8859-1, iso-8859-2, koi8-r),
* 1 % RFC 3834 out-of-office auto-replies (``Auto-Submitted: auto-replied``, subject "Automatic reply: ..."
  quoting an earlier subject of the same sender, no In-Reply-To).

Senders come from a pool of ~500 addresses; Message-IDs are unique; Dates increase from
Thu, 26 Nov 2026 08:00 +0800. Everything is built by string formatting (no ``email`` package), so
10,000 mails take a few seconds at most.

``python benchmarks/mailgen.py`` prints size statistics for n=1000.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import email.utils
import itertools
import os
import random
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["arrival_times", "generate_mails", "write_maildir"]

_TZ = _dt.timezone(_dt.timedelta(hours=8))
_START = _dt.datetime(2026, 11, 26, 8, 0, 0, tzinfo=_TZ)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_KINDS = ("plain", "alternative", "attachment", "reply", "legacy", "autoreply")
_WEIGHTS = (45, 25, 10, 14, 5, 1)

# --------------------------------------------------------------------------- phrase pools

_EN_FIRST = (
    "James",
    "Sarah",
    "David",
    "Emily",
    "Michael",
    "Grace",
    "Daniel",
    "Chloe",
    "Ryan",
    "Hannah",
    "Kevin",
    "Rachel",
    "Jason",
    "Michelle",
    "Adrian",
    "Natalie",
    "Brandon",
    "Olivia",
    "Marcus",
    "Jessica",
    "Wei Ling",
    "Jun Hao",
    "Mei Ling",
    "Kah Wai",
    "Priya",
    "Arjun",
    "Kavitha",
    "Ramesh",
    "Divya",
    "Suresh",
)
_EN_LAST = (
    "Tan",
    "Lim",
    "Lee",
    "Wong",
    "Ng",
    "Chan",
    "Ong",
    "Koh",
    "Teo",
    "Goh",
    "Smith",
    "Brown",
    "Taylor",
    "Wilson",
    "Clarke",
    "Nair",
    "Kumar",
    "Pillai",
    "Menon",
    "Raj",
)
_MS_FIRST = (
    "Ahmad",
    "Muhammad",
    "Nurul",
    "Siti",
    "Aisyah",
    "Farah",
    "Hafiz",
    "Azman",
    "Roslan",
    "Salmah",
    "Zulkifli",
    "Nor Azlina",
    "Faizal",
    "Khairul",
    "Amirah",
    "Syafiq",
    "Hidayah",
    "Ismail",
    "Rohani",
    "Izzat",
)
_MS_LAST = (
    "Abdullah",
    "Ismail",
    "Rahman",
    "Hassan",
    "Yusof",
    "Ibrahim",
    "Aziz",
    "Othman",
    "Hamid",
    "Razak",
    "Zainal",
    "Salleh",
    "Kassim",
    "Mohamad",
    "Rahim",
)
_DOMAINS = (
    "example.com",
    "example.my",
    "contoso.example",
    "fabrikam.example",
    "example.net",
    "northwind.example",
    "adatum.example",
    "mail.example.my",
)
_DEPTS_EN = (
    "Finance",
    "Sales",
    "Marketing",
    "HR",
    "Procurement",
    "Legal",
    "Operations",
    "Customer Service",
)
_DEPTS_MS = (
    "Kewangan",
    "Jualan",
    "Pemasaran",
    "Sumber Manusia",
    "Perolehan",
    "Undang-undang",
    "Operasi",
)
_TITLES_EN = (
    "Executive",
    "Senior Executive",
    "Manager",
    "Assistant Manager",
    "Analyst",
    "Officer",
    "Team Lead",
)
_TITLES_MS = (
    "Eksekutif",
    "Pegawai",
    "Pengurus",
    "Penolong Pengurus",
    "Pembantu Tadbir",
    "Ketua Unit",
)
_APPS = (
    "Outlook",
    "Teams",
    "SAP",
    "Salesforce",
    "PayMaster",
    "HRMIS",
    "SharePoint",
    "OneDrive",
    "Excel",
)
_SOFTWARE = (
    "Adobe Acrobat Pro",
    "Microsoft Visio",
    "Microsoft Project",
    "Power BI Desktop",
    "Zoom",
    "7-Zip",
    "Tableau Reader",
    "AutoCAD LT",
)

# (EN subjects, EN opening sentences, MS subjects, MS opening sentences); {app}, {floor}, {asset}, {sw}
# are filled in per mail.
_TOPICS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("Account locked out", "Locked out of my account", "Can't log in - account locked"),
        (
            "I have been locked out of my Windows account after a few wrong password attempts.",
            "My account seems to be locked; the login screen says the account is currently locked out.",
        ),
        ("Akaun dikunci", "Tidak dapat log masuk - akaun dikunci"),
        (
            "Akaun saya telah dikunci selepas beberapa kali salah memasukkan kata laluan.",
            "Saya tidak dapat log masuk kerana akaun saya dikunci oleh sistem.",
        ),
    ),
    (
        ("VPN won't connect", "VPN connection fails from home", "GlobalProtect error"),
        (
            "I can't connect to the VPN from home; GlobalProtect fails with an authentication error.",
            "The VPN keeps disconnecting every few minutes since this morning.",
        ),
        ("VPN tidak dapat disambungkan", "Masalah sambungan VPN"),
        (
            "Saya tidak dapat menyambung ke VPN dari rumah sejak pagi tadi.",
            "Sambungan VPN saya sentiasa terputus setiap beberapa minit.",
        ),
    ),
    (
        ("Printer jam on floor {floor}", "Printer not working - level {floor}", "Cannot print"),
        (
            "The printer on floor {floor} has a paper jam again and nobody can print.",
            "The printer on level {floor} shows an error and all print jobs are stuck in the queue.",
        ),
        ("Pencetak rosak di aras {floor}", "Tidak boleh mencetak"),
        (
            "Pencetak di aras {floor} tidak boleh mencetak dan memaparkan ralat kertas tersekat.",
            "Semua kerja cetakan tersangkut dalam baris gilir pencetak di aras {floor}.",
        ),
    ),
    (
        ("New starter - laptop and accounts", "Laptop request for new joiner"),
        (
            "We have a new colleague starting on 1 December who will need a laptop, e-mail and {app} access.",
        ),
        ("Permohonan akaun baharu untuk staf baru", "Permohonan komputer riba untuk staf baru"),
        (
            "Seorang staf baru akan melapor diri pada 1 Disember dan memerlukan komputer riba serta akaun e-mel.",
        ),
    ),
    (
        ("Access to shared drive", "Permission denied on shared folder"),
        (
            "I need read/write access to the {dept} shared drive; I get 'access denied' when I open it.",
        ),
        ("Akses ke pemacu kongsi", "Tiada kebenaran akses folder kongsi"),
        (
            "Saya memerlukan akses ke pemacu kongsi {dept} tetapi sistem memaparkan 'akses ditolak'.",
        ),
    ),
    (
        ("{app} keeps crashing", "{app} not responding", "{app} closes by itself"),
        (
            "{app} closes by itself a few seconds after I open it, since yesterday's update.",
            "{app} freezes and shows 'not responding' several times an hour.",
        ),
        ("{app} asyik tertutup sendiri", "{app} tidak berfungsi"),
        ("{app} tertutup sendiri beberapa saat selepas dibuka sejak kemas kini semalam.",),
    ),
    (
        ("Software install request - {sw}", "Please install {sw}"),
        (
            "Could you please install {sw} on my laptop (asset {asset})? My manager has approved it.",
        ),
        ("Permohonan pemasangan perisian {sw}", "Mohon pasang {sw}"),
        ("Mohon pihak tuan/puan memasang perisian {sw} pada komputer riba saya ({asset}).",),
    ),
    (
        ("Mailbox full", "E-mail quota exceeded", "Cannot send e-mails - mailbox full"),
        ("Outlook says my mailbox is full and I can no longer send or receive e-mails.",),
        ("Peti mel penuh", "Kuota e-mel telah penuh"),
        (
            "Outlook memaparkan mesej bahawa peti mel saya penuh dan saya tidak boleh menghantar e-mel.",
        ),
    ),
    (
        ("Wi-Fi very slow", "Slow internet on level {floor}"),
        (
            "The Wi-Fi on level {floor} is extremely slow; web pages take more than a minute to load.",
        ),
        ("Internet sangat perlahan", "Wi-Fi perlahan di aras {floor}"),
        ("Sambungan Internet di aras {floor} sangat perlahan sejak semalam.",),
    ),
    (
        ("MFA - new phone", "Need to reset my Authenticator", "MFA prompts not arriving"),
        ("I changed my phone and can no longer approve MFA requests in Microsoft Authenticator.",),
        ("Telefon baharu - tetapan semula MFA", "Tidak menerima kod pengesahan MFA"),
        ("Saya telah menukar telefon dan tidak dapat meluluskan permintaan MFA.",),
    ),
    (
        ("Password expired", "Cannot change expired password"),
        ("My password expired today and I can't change it while working from home.",),
        ("Kata laluan tamat tempoh", "Tidak dapat menukar kata laluan"),
        ("Kata laluan saya telah tamat tempoh dan saya tidak dapat menukarnya dari rumah.",),
    ),
    (
        ("URGENT: {app} down for the whole department", "{app} unavailable - all users affected"),
        ("{app} is down for our whole department; everyone gets '503 Service Unavailable'.",),
        ("SEGERA: Sistem {app} tidak dapat diakses", "Sistem {app} tergendala"),
        ("Sistem {app} tidak dapat diakses oleh semua staf di bahagian kami sejak tengah hari.",),
    ),
    (
        ("Request for a monitor", "Second monitor request"),
        ("Could I please get a second monitor for my desk on level {floor}?",),
        ("Permohonan monitor tambahan",),
        ("Saya ingin memohon sebuah monitor tambahan untuk meja saya di aras {floor}.",),
    ),
    (
        ("Laptop very slow", "Laptop overheating and slow"),
        ("My laptop ({asset}) has become very slow; it takes ten minutes to start up.",),
        ("Komputer riba sangat perlahan",),
        (
            "Komputer riba saya ({asset}) menjadi sangat perlahan dan mengambil masa lama untuk dihidupkan.",
        ),
    ),
)

_EN_GREET = (
    "Hi,",
    "Hi IT,",
    "Hello,",
    "Hello Service Desk,",
    "Dear IT Support,",
    "Hi team,",
    "Good morning,",
)
_MS_GREET = (
    "Salam,",
    "Salam sejahtera,",
    "Assalamualaikum dan salam sejahtera,",
    "Tuan/Puan,",
    "Hai IT,",
)
_EN_DETAIL = (
    "I have already restarted the laptop twice but the problem is still there.",
    "It started yesterday afternoon, right after the Windows update was installed.",
    "A few colleagues in {dept} have the same issue, so it may not be just my machine.",
    'The error message says: "Something went wrong. Please try again later (code 0x{code})."',
    "My laptop asset tag is {asset} and I sit on level {floor}.",
    "I need this for the month-end report, which is due on Friday.",
    "I tried the web version of {app} and that works, but I need the desktop app for shared calendars.",
    "I can be reached on extension {ext} or on my mobile if you need remote access.",
    "I'm working from home today, so please call me before connecting remotely.",
    "This is quite urgent because I have a client meeting at {hour}:30.",
    "I cleared the browser cache and tried Chrome and Edge, with the same result.",
    "Not sure if it's related, but my account was renamed last week after the reorganisation.",
    "My manager has approved this request; the approval reference is CHG-2026-{ref}.",
    "The problem happens both on the office Wi-Fi and on the LAN cable at my desk.",
    "Please let me know if you need any screenshots or log files from my side.",
    "I also noticed that the fan is very loud and the laptop gets hot near the keyboard.",
    "We have a deadline today, so any help before lunch would be much appreciated.",
    "I've attached nothing because I can't take a screenshot of the login screen.",
    "The same thing happened about a month ago and was fixed by resetting my profile.",
    "Thanks for the quick help last time \u2013 hoping this one is as easy.",
)
_MS_DETAIL = (
    "Saya sudah cuba hidupkan semula komputer tetapi masalah masih berlaku.",
    "Masalah ini bermula semalam selepas kemas kini Windows dipasang.",
    "Beberapa rakan sekerja di Bahagian {dept} juga menghadapi masalah yang sama.",
    'Mesej ralat yang dipaparkan ialah "Ralat tidak dijangka (kod 0x{code})".',
    "Tag aset komputer riba saya ialah {asset} dan saya berada di aras {floor}.",
    "Saya perlukan sistem ini untuk menyiapkan laporan akhir bulan sebelum hari Jumaat.",
    "Saya boleh dihubungi di sambungan {ext} sekiranya tuan/puan memerlukan maklumat lanjut.",
    "Saya bekerja dari rumah hari ini, jadi mohon hubungi saya sebelum sambungan jarak jauh.",
    "Perkara ini agak segera kerana saya ada mesyuarat bersama pelanggan pada jam {hour}.30.",
    "Saya sudah cuba menggunakan pelayar Chrome dan Edge tetapi keputusannya sama.",
    "Kelulusan ketua jabatan telah diperoleh, rujukan CHG-2026-{ref}.",
    "Masalah ini berlaku sama ada menggunakan Wi-Fi atau kabel LAN.",
    "Mohon maklumkan jika tuan/puan memerlukan tangkapan skrin atau fail log.",
    "Perkara yang sama pernah berlaku bulan lepas dan diselesaikan dengan menetapkan semula profil saya.",
)
_EN_CLOSE = (
    "Thanks,",
    "Thank you,",
    "Regards,",
    "Best regards,",
    "Many thanks,",
    "Cheers,",
    "Kind regards,",
)
_MS_CLOSE = (
    "Terima kasih.",
    "Sekian, terima kasih.",
    "Terima kasih atas bantuan tuan/puan.",
    "Salam hormat,",
)
_EN_REPLY = (
    "Some more information: the problem happened again just now, at {hour}:{minute:02d}.",
    "Update: restarting did not help, the same error is back.",
    "Thanks for the quick reply. I've tried your suggestion but it still doesn't work.",
    "Quick update - a colleague has the same issue now, so it's not only me.",
    "It's working again now, thank you! You can close the ticket.",
    "Sorry, I forgot to mention: my asset tag is {asset}.",
)
_MS_REPLY = (
    "Maklumat tambahan: masalah ini berlaku sekali lagi pada jam {hour}.{minute:02d} tadi.",
    "Terima kasih atas maklum balas. Saya sudah cuba cadangan tuan/puan tetapi masih gagal.",
    "Masalah telah selesai sekarang, terima kasih. Tiket boleh ditutup.",
    "Maaf, saya terlupa nyatakan: tag aset saya ialah {asset}.",
)
_DISCLAIMER = (
    "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and intended solely for the "
    "addressee. If you have received it in error, please notify the sender and delete it. The company "
    "accepts no liability for any damage caused by viruses transmitted by this e-mail."
)

# Legacy-charset mails: (charset, subjects, body paragraphs, signature). All text must encode in the charset.
_LEGACY: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = (
    (
        "windows-1252",
        (
            "Software install request \u2013 Adobe Acrobat",
            "Printer on 3rd floor \u201cout of order\u201d",
            "Caf\u00e9 area Wi-Fi down",
        ),
        (
            "Hello IT Service Desk,",
            (
                "Could you please install \u201cAdobe Acrobat Pro\u201d on my laptop? The licence is budgeted at \u20ac180 "
                "per year \u2013 cost centre FIN-220."
            ),
            "The printer near the caf\u00e9 says \u201cPaper jam\u201d but there\u2019s no paper inside\u2026",
            "My manager, H\u00e9l\u00e8ne Martin, has approved it. I\u2019m in the office all day.",
            "Merci beaucoup \u2013 and sorry for the short notice.",
        ),
        "Ren\u00e9 Fran\u00e7ois\nContr\u00f4leur financier \u2013 Contoso Europe",
    ),
    (
        "iso-8859-1",
        (
            "Drucker im 3. Stock gest\u00f6rt",
            "VPN-Zugang funktioniert nicht",
            "Konto gesperrt - bitte entsperren",
        ),
        (
            "Guten Tag,",
            (
                "der Drucker im 3. Stock zeigt seit heute Morgen \u00abPapierstau\u00bb an, obwohl kein Papier "
                "feststeckt. Wir haben das Ger\u00e4t schon zweimal neu gestartet."
            ),
            (
                "Au\u00dferdem kann ich mich seit dem Update nicht mehr mit dem VPN verbinden; die Meldung lautet "
                "\u00abZugriff verweigert (0x{code})\u00bb."
            ),
            "Mein Benutzerkonto wurde nach mehreren Fehlversuchen gesperrt. K\u00f6nnten Sie es bitte entsperren?",
            "Vielen Dank f\u00fcr Ihre Hilfe und sch\u00f6ne Gr\u00fc\u00dfe.",
        ),
        "J\u00fcrgen M\u00fcller\nEinkauf, Geb\u00e4ude B",
    ),
    (
        "iso-8859-2",
        (
            "Nie mog\u0119 si\u0119 zalogowa\u0107 do VPN",
            "Drukarka na 2. pi\u0119trze nie dzia\u0142a",
            "Zablokowane konto u\u017cytkownika",
        ),
        (
            "Dzie\u0144 dobry,",
            (
                "od rana nie mog\u0119 po\u0142\u0105czy\u0107 si\u0119 z VPN. Pojawia si\u0119 komunikat "
                '"B\u0142\u0105d uwierzytelniania (0x{code})".'
            ),
            "Drukarka na drugim pi\u0119trze nie drukuje, wszystkie zadania czekaj\u0105 w kolejce.",
            "Moje konto zosta\u0142o zablokowane po kilku nieudanych pr\u00f3bach logowania.",
            "Z g\u00f3ry dzi\u0119kuj\u0119 za pomoc.",
        ),
        "\u0141ukasz Wi\u015bniewski\nDzia\u0142 Zakup\u00f3w",
    ),
    (
        "koi8-r",
        (
            "\u041d\u0435 \u0440\u0430\u0431\u043e\u0442\u0430\u0435\u0442 VPN",
            "\u041f\u0440\u0438\u043d\u0442\u0435\u0440 \u043d\u0430 3 \u044d\u0442\u0430\u0436\u0435",
            (
                "\u0417\u0430\u0431\u043b\u043e\u043a\u0438\u0440\u043e\u0432\u0430\u043d\u0430 "
                "\u0443\u0447\u0451\u0442\u043d\u0430\u044f \u0437\u0430\u043f\u0438\u0441\u044c"
            ),
        ),
        (
            "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439\u0442\u0435!",
            (
                "\u041d\u0435 \u043c\u043e\u0433\u0443 \u043f\u043e\u0434\u043a\u043b\u044e\u0447\u0438\u0442\u044c\u0441\u044f "
                "\u043a VPN \u0438\u0437 \u0434\u043e\u043c\u0430, \u043e\u0448\u0438\u0431\u043a\u0430 "
                "\u0430\u0443\u0442\u0435\u043d\u0442\u0438\u0444\u0438\u043a\u0430\u0446\u0438\u0438 (0x{code})."
            ),
            (
                "\u041f\u0440\u0438\u043d\u0442\u0435\u0440 \u043d\u0430 \u0442\u0440\u0435\u0442\u044c\u0435\u043c "
                '\u044d\u0442\u0430\u0436\u0435 \u043f\u0438\u0448\u0435\u0442 "\u0437\u0430\u043c\u044f\u0442\u0438\u0435 '
                '\u0431\u0443\u043c\u0430\u0433\u0438", \u043d\u043e \u0431\u0443\u043c\u0430\u0433\u0438 '
                "\u0432\u043d\u0443\u0442\u0440\u0438 \u043d\u0435\u0442."
            ),
            (
                "\u041c\u043e\u044f \u0443\u0447\u0451\u0442\u043d\u0430\u044f \u0437\u0430\u043f\u0438\u0441\u044c "
                "\u0437\u0430\u0431\u043b\u043e\u043a\u0438\u0440\u043e\u0432\u0430\u043d\u0430 \u043f\u043e\u0441\u043b\u0435 "
                "\u043d\u0435\u0441\u043a\u043e\u043b\u044c\u043a\u0438\u0445 \u043f\u043e\u043f\u044b\u0442\u043e\u043a "
                "\u0432\u0445\u043e\u0434\u0430."
            ),
            "\u0417\u0430\u0440\u0430\u043d\u0435\u0435 \u0441\u043f\u0430\u0441\u0438\u0431\u043e.",
        ),
        (
            "\u0410\u043d\u043d\u0430 \u0421\u043c\u0438\u0440\u043d\u043e\u0432\u0430\n"
            "\u041e\u0442\u0434\u0435\u043b \u0437\u0430\u043a\u0443\u043f\u043e\u043a"
        ),
    ),
)

_OOO_EN = (
    (
        "Thank you for your message. I am out of the office until {until} with limited access to e-mail. "
        "For urgent matters please contact my colleague {alt}."
    ),
    "I'm currently on leave and will respond when I return on {until}.",
)
_OOO_MS = (
    "Terima kasih atas e-mel anda. Saya bercuti sehingga {until}. Untuk perkara segera, sila hubungi {alt}.",
)

_ATTACH_TYPES = (
    (
        "application/pdf",
        ("report", "invoice", "error-log", "approval-form", "scan"),
        ".pdf",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    ),
    (
        "image/png",
        ("screenshot", "error", "image001", "Capture"),
        ".png",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ("request-form", "onboarding-checklist", "access-request", "minutes"),
        ".docx",
        b"PK\x03\x04\x14\x00\x06\x00",
    ),
)

_HTML_HEAD = (
    '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:w="urn:schemas-microsoft-com:office:word" '
    'xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40">\r\n'
    "<head>\r\n"
    '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
    '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\r\n'
    '<style><!--\r\n/* Font Definitions */\r\n@font-face\r\n\t{font-family:"Cambria Math";\r\n'
    "\tpanose-1:2 4 5 3 5 4 6 3 2 4;}\r\n@font-face\r\n\t{font-family:Calibri;\r\n"
    "\tpanose-1:2 15 5 2 2 2 4 3 2 4;}\r\n/* Style Definitions */\r\n"
    "p.MsoNormal, li.MsoNormal, div.MsoNormal\r\n\t{margin:0cm;\r\n\tfont-size:11.0pt;\r\n"
    '\tfont-family:"Calibri",sans-serif;}\r\na:link, span.MsoHyperlink\r\n\t{mso-style-priority:99;\r\n'
    "\tcolor:#0563C1;\r\n\ttext-decoration:underline;}\r\nspan.EmailStyle17\r\n"
    '\t{mso-style-type:personal-compose;\r\n\tfont-family:"Calibri",sans-serif;\r\n\tcolor:windowtext;}\r\n'
    '.MsoChpDefault\r\n\t{mso-style-type:export-only;\r\n\tfont-family:"Calibri",sans-serif;}\r\n'
    "@page WordSection1\r\n\t{size:612.0pt 792.0pt;\r\n\tmargin:72.0pt 72.0pt 72.0pt 72.0pt;}\r\n"
    "div.WordSection1\r\n\t{page:WordSection1;}\r\n--></style><!--[if gte mso 9]><xml>\r\n"
    '<o:shapedefaults v:ext="edit" spidmax="1026" />\r\n</xml><![endif]--><!--[if gte mso 9]><xml>\r\n'
    '<o:shapelayout v:ext="edit">\r\n<o:idmap v:ext="edit" data="1" />\r\n</o:shapelayout></xml><![endif]-->\r\n'
    "</head>\r\n"
)

# --------------------------------------------------------------------------- helpers


class _Sender:
    __slots__ = ("addr", "dept", "host", "lang", "mailer", "name", "title")

    def __init__(self, name: str, addr: str, lang: str, mailer: str, title: str, dept: str) -> None:
        self.name = name
        self.addr = addr
        self.host = addr.rpartition("@")[2]
        self.lang = lang
        self.mailer = mailer
        self.title = title
        self.dept = dept


class _Sent:
    __slots__ = ("date", "lang", "mid", "refs", "sender", "subject", "text")

    def __init__(
        self, sender: _Sender, subject: str, mid: str, refs: str, date: str, text: str, lang: str
    ) -> None:
        self.sender = sender
        self.subject = subject
        self.mid = mid
        self.refs = refs
        self.date = date
        self.text = text
        self.lang = lang


def _senders(rng: random.Random, count: int = 500) -> list[_Sender]:
    out: list[_Sender] = []
    seen: set[str] = set()
    while len(out) < count:
        malay = rng.random() < 0.4
        first = rng.choice(_MS_FIRST if malay else _EN_FIRST)
        last = rng.choice(_MS_LAST if malay else _EN_LAST)
        domain = rng.choice(_DOMAINS)
        f, l_ = first.lower().replace(" ", ""), last.lower()
        style = rng.randrange(4)
        local = (f"{f}.{l_}", f"{f[0]}{l_}", f"{f}_{l_}", f"{f}.{l_}{rng.randrange(2, 99)}")[style]
        addr = f"{local}@{domain}"
        if addr in seen:
            continue
        seen.add(addr)
        name = f"{first} bin {last}" if malay and rng.random() < 0.3 else f"{first} {last}"
        lang = "ms" if malay and rng.random() < 0.75 else "en"
        mailer = rng.choice(("outlook", "outlook", "outlook", "gmail", "thunderbird", "apple"))
        title = rng.choice(_TITLES_MS if lang == "ms" else _TITLES_EN)
        dept = rng.choice(_DEPTS_MS if lang == "ms" else _DEPTS_EN)
        out.append(_Sender(name, addr, lang, mailer, title, dept))
    return out


def _fmt_date(d: _dt.datetime) -> str:
    return f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year} {d:%H:%M:%S} +0800"


def _vals(rng: random.Random, sender: _Sender) -> dict[str, object]:
    return {
        "app": rng.choice(_APPS),
        "floor": rng.randint(1, 12),
        "sw": rng.choice(_SOFTWARE),
        "asset": f"EX-LT-{rng.randint(100, 4999):04d}",
        "dept": sender.dept,
        "ext": rng.randint(2000, 4999),
        "code": f"{rng.getrandbits(32):08X}",
        "hour": rng.randint(9, 17),
        "minute": rng.randrange(60),
        "ref": f"{rng.randint(1, 9999):04d}",
    }


def _wrap(text: str, width: int = 76) -> str:
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n".join(lines)


def _ascii_or_ew(text: str, charset: str = "utf-8") -> str:
    """Header text as is when ASCII, otherwise RFC 2047 B encoded-words (each <= 75 chars)."""
    if text.isascii():
        return text
    words: list[str] = []
    chunk = ""
    for ch in text:
        if len((chunk + ch).encode(charset)) > 36:
            words.append(chunk)
            chunk = ch
        else:
            chunk += ch
    words.append(chunk)
    return "\r\n ".join(
        f"=?{charset}?B?{base64.b64encode(w.encode(charset)).decode('ascii')}?=" for w in words
    )


def _display(name: str) -> str:
    return f'"{name}"' if any(c in name for c in "'.,") else name


def _compose(rng: random.Random, sender: _Sender, lang: str, target: int) -> tuple[str, str]:
    """Returns (subject, body text with CRLF line breaks) of roughly ``target`` characters."""
    v = _vals(rng, sender)
    topic = rng.choice(_TOPICS)
    ms = lang == "ms"
    subject = rng.choice(topic[2] if ms else topic[0]).format(**v)
    paras = [
        rng.choice(_MS_GREET if ms else _EN_GREET),
        rng.choice(topic[3] if ms else topic[1]).format(**v),
    ]
    details = _MS_DETAIL if ms else _EN_DETAIL
    size = sum(len(p) for p in paras)
    order = rng.sample(range(len(details)), len(details))
    i = 0
    while size < target:
        if i < len(order):
            # one to three sentences per paragraph
            k = min(len(order) - i, rng.randint(1, 3))
            para = " ".join(details[j].format(**v) for j in order[i : i + k])
            i += k
        else:  # pool exhausted: paste a log excerpt, as users do
            base = rng.randint(0, 36000)
            para = "\r\n".join(
                f"2026-11-26 {(base + 7 * n) // 3600 % 24:02d}:{(base + 7 * n) // 60 % 60:02d}:"
                f"{(base + 7 * n) % 60:02d} ERROR [{v['app']}] request {rng.getrandbits(32):08x} failed: "
                f"0x{rng.getrandbits(32):08X} ({rng.choice(('timeout', 'access denied', 'auth failed'))})"
                for n in range(rng.randint(3, 8))
            )
        if size + len(para) > target + 150 and size > 250:
            break
        paras.append(para)
        size += len(para) + 4
    paras.append(rng.choice(_MS_CLOSE if ms else _EN_CLOSE))
    sig = f"{sender.name}\r\n{sender.title}, {sender.dept}"
    if rng.random() < 0.25:
        sig += "\r\n\r\n" + _wrap(_DISCLAIMER)
    body = (
        "\r\n\r\n".join(_wrap(p) if "\r\n" not in p else p for p in paras) + "\r\n" + sig + "\r\n"
    )
    return subject, body


def _text_part(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, encoded body) for a UTF-8 text."""
    if text.isascii():
        return "7bit", text.encode("ascii")
    return "quoted-printable", binascii.b2a_qp(text.encode("utf-8"), istext=True)


def _html(text: str) -> str:
    paras = []
    for p in text.split("\r\n\r\n"):
        p = p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        paras.append(
            f'<p class="MsoNormal">{p.replace(chr(13) + chr(10), "<br>" + chr(13) + chr(10))}'
            '<o:p></o:p></p>\r\n<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        )
    return (
        _HTML_HEAD
        + '<body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\r\n'
        '<div class="WordSection1">\r\n'
        + "\r\n".join(paras)
        + "\r\n</div>\r\n</body>\r\n</html>\r\n"
    )


def _headers(
    rng: random.Random,
    sender: _Sender,
    domain: str,
    subject: str,
    date: str,
    mid: str,
    extra: str = "",
    charset: str = "utf-8",
) -> str:
    qid = f"4Rk{rng.getrandbits(48):012X}"
    relay = sender.host if sender.host.startswith("mail.") else f"mail.{sender.host}"
    ip = f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"
    to = rng.choice(
        (
            f"support@{domain}",
            f"IT Service Desk <support@{domain}>",
            f'"support@{domain}" <support@{domain}>',
        )
    )
    mailer = {
        "outlook": "X-MS-Has-Attach: \r\nX-MS-TNEF-Correlator: \r\nContent-Language: en-US\r\n",
        "gmail": "",
        "thunderbird": "User-Agent: Mozilla Thunderbird\r\n",
        "apple": "X-Mailer: Apple Mail (2.3826.300.87.4.3)\r\n",
    }[sender.mailer]
    return (
        f"Return-Path: <{sender.addr}>\r\n"
        f"Received: from {relay} ({relay} [{ip}])\r\n"
        f"\tby mx1.{domain} (Postfix) with ESMTPS id {qid}\r\n"
        f"\tfor <support@{domain}>; {date} (+08)\r\n"
        f"From: {_ascii_or_ew(_display(sender.name))} <{sender.addr}>\r\n"
        f"To: {to}\r\n"
        f"Subject: {_ascii_or_ew(subject, charset)}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: {mid}\r\n"
        f"{extra}{mailer}MIME-Version: 1.0\r\n"
    )


def _mid(rng: random.Random, i: int, sender: _Sender, d: _dt.datetime) -> str:
    if sender.mailer == "outlook":
        box = f"SG2PR0{rng.randint(1, 6)}MB{rng.randint(1000, 9999)}"
        return f"<{box}{rng.getrandbits(96):024X}{i:06X}@{box}.apcprd06.prod.{sender.host}>"
    if sender.mailer == "gmail":
        token = base64.b32encode(rng.getrandbits(160).to_bytes(20, "big")).decode("ascii")[:28]
        return f"<CA{token}{i:06x}@mail.{sender.host}>"
    return f"<{d:%Y%m%d%H%M%S}.{i:06d}.{rng.getrandbits(40):010x}@{sender.host}>"


def _attachment(rng: random.Random, boundary: str) -> str:
    ctype, stems, ext, magic = rng.choice(_ATTACH_TYPES)
    size = int(5 * 1024 * (40 ** rng.random()))  # log-uniform 5 KB .. 200 KB
    data = magic + rng.randbytes(size - len(magic))
    name = f"{rng.choice(stems)}-{rng.randint(1, 999):03d}{ext}"
    payload = base64.encodebytes(data).replace(b"\n", b"\r\n").decode("ascii")
    return (
        f'--{boundary}\r\nContent-Type: {ctype}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"; size={size}\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{payload}"
    )


def _quote(prev: _Sent, limit: int = 15) -> str:
    lines = prev.text.split("\r\n")[:limit]
    quoted = "\r\n".join(f"> {ln}" if ln else ">" for ln in lines)
    return f"On {prev.date}, {prev.sender.name} <{prev.sender.addr}> wrote:\r\n{quoted}\r\n"


# --------------------------------------------------------------------------- generator


def _generate(n: int, seed: int, domain: str) -> list[tuple[str, bytes]]:
    rng = random.Random(f"tiket-mailgen/{seed}")
    senders = _senders(rng)
    history: list[_Sent] = []
    out: list[tuple[str, bytes]] = []
    now = _START
    for i in range(n):
        now += _dt.timedelta(seconds=rng.randint(5, 90))
        date = _fmt_date(now)
        kind = rng.choices(_KINDS, _WEIGHTS)[0]
        if kind in ("reply", "autoreply") and not history:
            kind = "plain"
        prev = (
            history[-rng.randint(1, min(len(history), 300))]
            if kind in ("reply", "autoreply")
            else None
        )
        sender = prev.sender if prev is not None else rng.choice(senders)
        mid = _mid(rng, i, sender, now)
        lang = prev.lang if prev is not None else sender.lang
        target = rng.randint(300, 2600)  # characters of body text, before closing and signature

        if kind == "legacy":
            charset, subjects, paras, sig = rng.choice(_LEGACY)
            v = _vals(rng, sender)
            subject = rng.choice(subjects)
            picked = [paras[0]] + rng.sample(paras[1:], rng.randint(2, len(paras) - 1))
            text = (
                "\r\n\r\n".join(_wrap(p.format(**v)) for p in picked)
                + "\r\n\r\n"
                + sig.replace("\n", "\r\n")
                + "\r\n"
            )
            head = _headers(rng, sender, domain, subject, date, mid, charset=charset)
            raw = (
                head + f'Content-Type: text/plain; charset="{charset}"\r\n'
                "Content-Transfer-Encoding: 8bit\r\n\r\n"
            ).encode("ascii") + text.encode(charset)
            history.append(_Sent(sender, subject, mid, "", date, text, lang))
            out.append((kind, raw))
            continue

        if kind == "autoreply":
            assert prev is not None
            until = (now + _dt.timedelta(days=rng.randint(1, 14))).strftime("%d/%m/%Y")
            alt = rng.choice(senders)
            ooo = _OOO_MS if lang == "ms" else _OOO_EN
            text = (
                _wrap(rng.choice(ooo).format(until=until, alt=f"{alt.name} ({alt.addr})"))
                + "\r\n\r\n"
                + sender.name
                + "\r\n"
            )
            label = (
                "Balasan automatik"
                if lang == "ms"
                else rng.choice(("Automatic reply", "Out of Office"))
            )
            subject = f"{label}: {prev.subject}"
            extra = "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"
            cte, body = _text_part(text)
            head = _headers(rng, sender, domain, subject, date, mid, extra)
            raw = (
                head
                + f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
            ).encode("ascii") + body
            out.append((kind, raw))
            continue

        if kind == "reply":
            assert prev is not None
            v = _vals(rng, sender)
            replies = _MS_REPLY if lang == "ms" else _EN_REPLY
            new = _wrap(rng.choice(replies).format(**v))
            if rng.random() < 0.5:
                new += "\r\n\r\n" + _wrap(
                    rng.choice(_MS_DETAIL if lang == "ms" else _EN_DETAIL).format(**v)
                )
            text = f"{new}\r\n\r\n{sender.name.split(' ')[0]}\r\n\r\n{_quote(prev)}"
            base_subject = prev.subject.removeprefix("Re: ")
            subject = f"Re: {base_subject}"
            refs = f"{prev.refs}\r\n {prev.mid}" if prev.refs else prev.mid
            extra = f"In-Reply-To: {prev.mid}\r\nReferences: {refs}\r\n"
            cte, body = _text_part(text)
            head = _headers(rng, sender, domain, subject, date, mid, extra)
            raw = (
                head
                + f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
            ).encode("ascii") + body
            history.append(_Sent(sender, subject, mid, refs, date, text, lang))
            out.append((kind, raw))
            continue

        subject, text = _compose(rng, sender, lang, target)
        head = _headers(rng, sender, domain, subject, date, mid)
        cte, body = _text_part(text)
        text_part = (
            f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
        ).encode("ascii") + body
        if kind == "plain":
            raw = head.encode("ascii") + text_part
        elif kind == "alternative":
            b = f"_000_{rng.getrandbits(128):032X}_"
            html = binascii.b2a_qp(_html(text).encode("utf-8"), istext=True)
            raw = (
                (
                    head
                    + f'Content-Type: multipart/alternative;\r\n\tboundary="{b}"\r\n\r\n--{b}\r\n'
                ).encode("ascii")
                + text_part
                + (
                    f'\r\n--{b}\r\nContent-Type: text/html; charset="utf-8"\r\n'
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                ).encode("ascii")
                + html
                + (f"\r\n--{b}--\r\n").encode("ascii")
            )
        else:  # attachment
            b = f"------------{rng.getrandbits(96):024X}"
            atts = "".join(_attachment(rng, b) for _ in range(1 if rng.random() < 0.8 else 2))
            raw = (
                (
                    head + f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n'
                    f"This is a multi-part message in MIME format.\r\n--{b}\r\n"
                ).encode("ascii")
                + text_part
                + (f"\r\n{atts}--{b}--\r\n").encode("ascii")
            )
        history.append(_Sent(sender, subject, mid, "", date, text, lang))
        out.append((kind, raw))
    return out


def generate_mails(n: int, *, seed: int = 0, domain: str = "example.org") -> list[bytes]:
    """``n`` raw mails (bytes, CRLF) to ``support@<domain>``; deterministic for (n, seed, domain)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return [raw for _, raw in _generate(n, seed, domain)]


_counter = itertools.count(1)


def arrival_times(mails: Sequence[bytes]) -> list[_dt.datetime]:
    """When each mail reached the server, as its Date header says (the generator's dates increase
    5-90 s apart, so 2,000 mails span about a day): what a mail server would stamp as the IMAP
    INTERNALDATE or a Maildir file's mtime."""
    found = []
    for raw in mails:
        head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
        date = next(line[5:].strip() for line in head.split("\r\n") if line.startswith("Date:"))
        found.append(email.utils.parsedate_to_datetime(date))
    return found


def write_maildir(
    mails: Sequence[bytes], path: Path, arrivals: Sequence[_dt.datetime] | None = None
) -> None:
    """Create a Maildir (cur/new/tmp) at ``path`` and deliver every mail into ``new/``.

    File names follow the Maildir convention ``<time>.M<usec>P<pid>Q<n>.<host>`` and are unique even
    when called repeatedly on the same directory. Each mail is written to ``tmp/`` and then renamed.
    ``arrivals``: when each mail was delivered (the file's mtime and name), else now.
    """
    path = Path(path)
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
    pid = os.getpid()
    for n, raw in enumerate(mails):
        now = arrivals[n].timestamp() if arrivals else time.time()
        name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{pid}Q{next(_counter)}.{host}"
        tmp = path / "tmp" / name
        with open(tmp, "xb") as fh:
            fh.write(raw)
        os.utime(tmp, (now, now))
        os.replace(tmp, path / "new" / name)


def _main() -> None:
    n = 1000
    t0 = time.perf_counter()
    mails = _generate(n, 0, "example.org")
    elapsed = time.perf_counter() - t0
    sizes = [len(raw) for _, raw in mails]
    print(f"generate_mails({n}, seed=0): {elapsed:.2f} s, {sum(sizes) / 1e6:.1f} MB in total")
    print(f"{'kind':<12} {'count':>5} {'min':>8} {'median':>8} {'mean':>8} {'max':>8}")
    for kind in (*_KINDS, "all"):
        s = sizes if kind == "all" else [len(raw) for k, raw in mails if k == kind]
        if s:
            print(
                f"{kind:<12} {len(s):>5} {min(s):>8} {int(statistics.median(s)):>8} "
                f"{int(statistics.fmean(s)):>8} {max(s):>8}"
            )
    if "--10k" in sys.argv[1:]:
        t0 = time.perf_counter()
        generate_mails(10_000)
        print(f"generate_mails(10000): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    _main()
