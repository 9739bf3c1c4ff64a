//! Demo tickets from the seeds' streets, communities and departments, driven through their
//! whole life by the real aggregate and store, then printed as timelines.
//!
//! The demo runs on a clock of its own that starts a week ago in the morning (Beijing time) and
//! moves forward between steps, so each timeline reads like a day in a street office.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use chrono::{Duration, FixedOffset, Offset, TimeZone, Utc};
use whistle_clock::{Clock, ManualClock};
use whistle_events::ticket::{CloseReason, Received, SlaClock, SupervisionLevel};
use whistle_events::{
    ActorId, Category, Channel, DepartmentId, EventMetadata, ExternalId, ExternalSource, LiaisonId,
    Location, ReporterContact, Score, SourceSystem, Text, TicketId, Urgency,
};
use whistle_store::EventStore;
use whistle_ticket::{TicketCommand as C, Tickets, TimelineEntry};

use crate::StoreArgs;

/// Names people read, for the codes the demo uses.
const NAMES: &[(&str, &str)] = &[
    ("haigang", "秦皇岛市海港区"),
    ("wenhualu", "文化路街道"),
    ("hongqili", "红旗里社区"),
    ("shizhong", "乐山市市中区"),
    ("tongjiang", "通江街道"),
    ("niuerqiao", "牛咡桥社区"),
    ("yuyao", "余姚市"),
    ("yangming", "阳明街道"),
    ("xinchengshi", "新城市社区"),
    ("haitang", "海棠街道"),
    ("fujie", "府街社区"),
    ("zhujian", "住建"),
    ("huanwei", "环卫"),
    ("chengguan", "城管中队"),
    ("paichusuo", "派出所"),
    ("wuye", "物业公司"),
    ("sifasuo", "司法所"),
];

/// The name of a code, or the code itself.
pub fn name_of(code: &str) -> &str {
    NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, n)| n)
}

fn id<T: std::str::FromStr>(s: &str) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse::<T>().with_context(|| format!("demo id `{s}`"))
}

fn text(s: &str) -> anyhow::Result<Text> {
    Text::note(s).with_context(|| format!("demo text `{s}`"))
}

/// The demo's tickets, by what became of them.
#[derive(Debug)]
pub struct Seeded {
    /// Tickets driven through their whole life, oldest story first.
    pub finished: Vec<TicketId>,
    /// Tickets left open for the stages to pick up: a complaint waiting for 河涧里's
    /// answer, a burst pipe called up to 阳明街道 (whose dispatcher confirms whistles),
    /// and a parking complaint called up to 通江街道 (which whistles automatically).
    pub open: Vec<TicketId>,
}

/// Records the demo tickets in `store`: whole lives from a week ago, and open tickets
/// from the last few minutes.
pub async fn seed(store: EventStore, vault: Arc<whistle_ticket::Vault>) -> anyhow::Result<Seeded> {
    // A week back, so the longest story (four days) ends in the past.
    let day = (Utc::now().with_timezone(&beijing()) - Duration::days(7)).date_naive();
    let start = beijing()
        .from_local_datetime(&day.and_hms_opt(8, 40, 0).context("08:40 is a valid time")?)
        .single()
        .context("08:40 Beijing time is unambiguous")?
        .with_timezone(&Utc);
    let clock = ManualClock::new(start);
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let store = store.with_clock(shared.clone());
    let tickets = Tickets::new(store, shared).with_vault(vault);
    let demo = Demo {
        tickets: &tickets,
        clock: &clock,
        start,
    };
    let (drain, duplicate) = demo
        .blocked_drain()
        .await
        .context("demo tickets: blocked drain at 红旗里, and a duplicate call")?;
    let finished = vec![
        drain,
        duplicate,
        demo.dark_street_lamp()
            .await
            .context("demo ticket: street lamp at 牛咡桥")?,
        demo.night_noise()
            .await
            .context("demo ticket: noise at 新城市")?,
        demo.falling_facade()
            .await
            .context("demo ticket: falling facade at 府街")?,
    ];
    let open = demo.open_tickets().await.context("open demo tickets")?;
    Ok(Seeded { finished, open })
}

/// Runs the demo tickets and prints their timelines.
pub async fn run(args: &StoreArgs) -> anyhow::Result<()> {
    let store = EventStore::open(&args.config(), Arc::new(whistle_clock::SystemClock))
        .await
        .context("opening the event store")?;
    let described = store.describe().to_owned();
    // The residents' contacts are sealed with the key `serve` uses, so it can show them.
    let vault = crate::keys::KeyArgs::default().vault(args)?;
    let seeded = seed(store.clone(), vault).await?;
    let tickets = Tickets::new(store, Arc::new(whistle_clock::SystemClock));
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "whistle demo: {} tickets driven through their life, {} left open, in {described}\n",
        seeded.finished.len(),
        seeded.open.len(),
    )?;
    for ticket in seeded.finished.into_iter().chain(seeded.open) {
        let timeline = tickets.timeline(ticket).await?;
        print_timeline(&mut out, ticket, &timeline)?;
        writeln!(out)?;
    }
    writeln!(out, "Open any ticket again:  whistle timeline <ticket id>")?;
    writeln!(
        out,
        "Read the whole log:     whistle log   (add --follow to watch it live)"
    )?;
    writeln!(
        out,
        "Run every service:      whistle serve   (the stages pick up the open tickets)"
    )?;
    Ok(())
}

/// Prints a ticket's timeline for people.
pub fn print_timeline(
    out: &mut impl Write,
    ticket: TicketId,
    timeline: &[TimelineEntry],
) -> std::io::Result<()> {
    let beijing = beijing();
    if let Some(first) = timeline.first()
        && let whistle_events::TicketEvent::Received(r) = &first.event
    {
        writeln!(
            out,
            "工单 ticket {ticket} — {}{}{} · {}",
            name_of(r.location.district.as_str()),
            name_of(r.location.street.as_str()),
            name_of(r.location.community.as_str()),
            r.category.label_zh()
        )?;
    } else {
        writeln!(out, "工单 ticket {ticket}")?;
    }
    for entry in timeline {
        let actor = entry.metadata.actor.as_ref().map_or("-", |a| a.as_str());
        writeln!(
            out,
            "  {:>2}. {}  {:<16} {}",
            entry.version,
            entry
                .recorded_at
                .with_timezone(&beijing)
                .format("%m-%d %H:%M"),
            actor,
            entry.summary()
        )?;
    }
    Ok(())
}

/// Beijing time (UTC+8, no daylight saving), the time every seed's street lives in.
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

struct Demo<'a> {
    tickets: &'a Tickets,
    clock: &'a ManualClock,
    /// 08:40 a week ago, Beijing time: each story starts at its own offset from here.
    start: chrono::DateTime<Utc>,
}

impl Demo<'_> {
    /// Puts the clock at `minutes` after the demo day's start.
    fn begin(&self, minutes: i64) {
        self.clock.set(self.start + Duration::minutes(minutes));
    }

    /// Advances the demo clock, then executes the command as `actor`.
    async fn step(
        &self,
        ticket: TicketId,
        minutes: i64,
        actor: &str,
        command: C,
    ) -> anyhow::Result<()> {
        self.clock.advance(Duration::minutes(minutes));
        let metadata = EventMetadata::by(ActorId::parse(actor)?);
        self.tickets
            .execute(ticket, command, &metadata)
            .await
            .with_context(|| format!("ticket {ticket}: step by {actor}"))
    }

    fn location(
        district: &str,
        street: &str,
        community: &str,
        grid: Option<&str>,
        place: &str,
    ) -> anyhow::Result<Location> {
        Ok(Location {
            district: id(district)?,
            street: id(street)?,
            community: id(community)?,
            grid: grid.map(id).transpose()?,
            place: Some(place.to_owned()),
        })
    }

    fn departments(codes: &[&str]) -> anyhow::Result<Vec<DepartmentId>> {
        codes.iter().map(|c| id(c)).collect()
    }

    /// 文化路街道红旗里社区: a blocked drain, called up, whistle to 住建 and 环卫; a
    /// neighbour's duplicate call is merged into it; 环卫 declines, 住建 clears it; the
    /// resident is satisfied.
    async fn blocked_drain(&self) -> anyhow::Result<(TicketId, TicketId)> {
        let source = SourceSystem::parse("hotline-12345")?;
        let external = ExternalId::parse(format!("12345-{}", uuid::Uuid::new_v4().simple()))?;
        let t = TicketId::for_external(&source, &external);
        self.begin(0);
        let receive = C::Receive(Received {
            channel: Channel::Hotline,
            reporter: ReporterContact {
                name: Some("张女士".into()),
                phone: Some("13800001234".into()),
                address: None,
            },
            sealed_reporter: None,
            location: Self::location(
                "haigang",
                "wenhualu",
                "hongqili",
                Some("hongqili-03"),
                "红旗里小区5号楼",
            )?,
            category: Category::Drains,
            urgency: Urgency::Major,
            description: text("楼前下水道堵塞，污水漫到路面")?,
            source: Some(ExternalSource {
                system: source,
                external_id: external,
            }),
        });
        self.step(t, 0, "hotline-12345", receive.clone()).await?;
        // The hotline platform delivers the same incident again: same ticket, nothing new.
        self.step(t, 1, "hotline-12345", receive).await?;
        self.step(
            t,
            3,
            "hongqili-li",
            C::Acknowledge {
                reply: text("已受理，社区网格员马上到现场查看")?,
            },
        )
        .await?;
        self.step(
            t,
            25,
            "hongqili-li",
            C::CallUp {
                reason: text("市政主管网堵塞，社区无法疏通")?,
            },
        )
        .await?;
        self.step(
            t,
            12,
            "wenhualu-dispatch",
            C::BlowWhistle {
                departments: Self::departments(&["zhujian", "huanwei"])?,
                lead: id("zhujian")?,
                reason: text("主管网疏通由住建牵头，环卫清理路面")?,
            },
        )
        .await?;
        // Meanwhile a neighbour calls about the same flooding.
        let resume = self.clock.now();
        let duplicate = self.duplicate_call(t).await?;
        self.clock.set(resume);
        self.step(
            t,
            9,
            "huanwei-zhao",
            C::Decline {
                department: id("huanwei")?,
                liaison: id("huanwei-zhao")?,
                reason: text("路面污水需先疏通管网，疏通后由住建通知清理")?,
            },
        )
        .await?;
        self.step(
            t,
            6,
            "zhujian-wang",
            C::ReportIn {
                department: id("zhujian")?,
                liaison: id("zhujian-wang")?,
            },
        )
        .await?;
        self.step(
            t,
            40,
            "zhujian-wang",
            C::NoteProgress {
                department: id("zhujian")?,
                liaison: id("zhujian-wang")?,
                note: text("已到现场，调用疏通车作业")?,
                on_site: true,
            },
        )
        .await?;
        self.step(
            t,
            95,
            "zhujian-wang",
            C::Finish {
                department: id("zhujian")?,
                liaison: id("zhujian-wang")?,
                fixed: true,
                outcome: text("主管网已疏通，路面已冲洗")?,
            },
        )
        .await?;
        self.step(
            t,
            10,
            "wenhualu-dispatch",
            C::Resolve {
                summary: text("下水道已疏通，路面已清理")?,
            },
        )
        .await?;
        self.step(
            t,
            130,
            "hotline-12345",
            C::RecordFeedback {
                resolved: true,
                satisfied: true,
                score: Some(Score::parse(5)?),
                comment: Some(text("处理很快，谢谢")?),
            },
        )
        .await?;
        self.step(
            t,
            1,
            "hotline-12345",
            C::Close {
                reason: CloseReason::Feedback,
            },
        )
        .await?;
        Ok((t, duplicate))
    }

    /// A second caller about the same flooding at 红旗里, while the street works on the first
    /// ticket: the survivor records the duplicate, then the duplicate is merged into it.
    async fn duplicate_call(&self, into: TicketId) -> anyhow::Result<TicketId> {
        let t = TicketId::new_random();
        self.begin(43);
        self.step(
            t,
            0,
            "hotline-12345",
            C::Receive(Received {
                channel: Channel::Hotline,
                reporter: ReporterContact {
                    name: Some("李先生".into()),
                    phone: Some("13900005678".into()),
                    address: None,
                },
                sealed_reporter: None,
                location: Self::location(
                    "haigang",
                    "wenhualu",
                    "hongqili",
                    Some("hongqili-03"),
                    "红旗里小区6号楼",
                )?,
                category: Category::Drains,
                urgency: Urgency::Major,
                description: text("6号楼前路面全是污水")?,
                source: None,
            }),
        )
        .await?;
        self.step(
            t,
            2,
            "hongqili-li",
            C::Acknowledge {
                reply: text("已受理，与5号楼下水道为同一问题，正在处理")?,
            },
        )
        .await?;
        self.step(into, 4, "wenhualu-dispatch", C::AbsorbDuplicate { from: t })
            .await?;
        self.step(
            t,
            0,
            "wenhualu-dispatch",
            C::MergeInto {
                into,
                reason: text("与红旗里5号楼下水道堵塞为同一事件")?,
            },
        )
        .await?;
        Ok(t)
    }

    /// 通江街道牛咡桥社区: a dark lamp in a back lane, found by a grid worker and fixed by the
    /// community itself.
    async fn dark_street_lamp(&self) -> anyhow::Result<TicketId> {
        let t = TicketId::new_random();
        self.begin(35);
        self.step(
            t,
            0,
            "niuerqiao-grid-2",
            C::Receive(Received {
                channel: Channel::GridWorker,
                reporter: ReporterContact::default(),
                sealed_reporter: None,
                location: Self::location(
                    "shizhong",
                    "tongjiang",
                    "niuerqiao",
                    Some("niuerqiao-02"),
                    "老旧院落背街小巷",
                )?,
                category: Category::StreetLighting,
                urgency: Urgency::Minor,
                description: text("背街小巷三盏路灯不亮，居民夜间出行不便")?,
                source: None,
            }),
        )
        .await?;
        self.step(
            t,
            2,
            "niuerqiao-chen",
            C::Acknowledge {
                reply: text("已收到，社区安排电工")?,
            },
        )
        .await?;
        self.step(
            t,
            20,
            "niuerqiao-chen",
            C::HandleLocally {
                plan: text("社区联系共建单位电工更换灯泡")?,
            },
        )
        .await?;
        self.step(
            t,
            180,
            "niuerqiao-chen",
            C::Resolve {
                summary: text("三盏路灯已更换，恢复照明")?,
            },
        )
        .await?;
        self.step(
            t,
            600,
            "niuerqiao-chen",
            C::RecordFeedback {
                resolved: true,
                satisfied: true,
                score: Some(Score::parse(4)?),
                comment: None,
            },
        )
        .await?;
        self.step(
            t,
            1,
            "niuerqiao-chen",
            C::Close {
                reason: CloseReason::Feedback,
            },
        )
        .await?;
        Ok(t)
    }

    /// 阳明街道新城市社区: noise at night; 派出所 and 城管中队 summoned, an extension, an
    /// unsatisfied resident, a reopen, and a second round that holds.
    async fn night_noise(&self) -> anyhow::Result<TicketId> {
        let t = TicketId::new_random();
        let police = id::<DepartmentId>("paichusuo")?;
        let city = id::<DepartmentId>("chengguan")?;
        let officer = id::<LiaisonId>("paichusuo-sun")?;
        let inspector = id::<LiaisonId>("chengguan-qian")?;
        self.begin(80);
        self.step(
            t,
            0,
            "walkin-yangming",
            C::Receive(Received {
                channel: Channel::WalkIn,
                reporter: ReporterContact {
                    name: Some("王阿姨".into()),
                    phone: Some("13700002468".into()),
                    address: None,
                },
                sealed_reporter: None,
                location: Self::location(
                    "yuyao",
                    "yangming",
                    "xinchengshi",
                    Some("xinchengshi-07"),
                    "新城市小区临街商铺",
                )?,
                category: Category::Noise,
                urgency: Urgency::Major,
                description: text("临街烧烤店每晚营业到凌晨，噪音和油烟扰民")?,
                source: None,
            }),
        )
        .await?;
        self.step(
            t,
            4,
            "xinchengshi-xu",
            C::Acknowledge {
                reply: text("已受理，今晚安排网格员核实")?,
            },
        )
        .await?;
        self.step(
            t,
            60,
            "xinchengshi-xu",
            C::CallUp {
                reason: text("涉及占道经营和夜间噪音，需要执法")?,
            },
        )
        .await?;
        self.step(
            t,
            15,
            "yangming-dispatch",
            C::BlowWhistle {
                departments: vec![police.clone(), city.clone()],
                lead: city.clone(),
                reason: text("城管中队牵头处理占道经营，派出所处理夜间噪音")?,
            },
        )
        .await?;
        self.step(
            t,
            12,
            "paichusuo-sun",
            C::ReportIn {
                department: police.clone(),
                liaison: officer.clone(),
            },
        )
        .await?;
        self.step(
            t,
            20,
            "chengguan-qian",
            C::ReportIn {
                department: city.clone(),
                liaison: inspector.clone(),
            },
        )
        .await?;
        let until = self.clock.now() + Duration::days(3);
        self.step(
            t,
            30,
            "chengguan-qian",
            C::RequestExtension {
                department: city.clone(),
                liaison: inspector.clone(),
                until,
                reason: text("需约谈店主并联合市场监管复查")?,
            },
        )
        .await?;
        self.step(
            t,
            25,
            "yangming-dispatch",
            C::ApproveExtension {
                department: city.clone(),
                reason: text("涉及多部门联合执法，同意延期三天")?,
            },
        )
        .await?;
        self.step(
            t,
            300,
            "paichusuo-sun",
            C::Finish {
                department: police.clone(),
                liaison: officer.clone(),
                fixed: true,
                outcome: text("已警告店主，22点后停止户外经营")?,
            },
        )
        .await?;
        self.step(
            t,
            900,
            "chengguan-qian",
            C::Finish {
                department: city.clone(),
                liaison: inspector.clone(),
                fixed: true,
                outcome: text("占道桌椅已清理，店主签署承诺书")?,
            },
        )
        .await?;
        self.step(
            t,
            10,
            "yangming-dispatch",
            C::Resolve {
                summary: text("店铺已整改，夜间不再户外经营")?,
            },
        )
        .await?;
        self.step(
            t,
            1440,
            "walkin-yangming",
            C::RecordFeedback {
                resolved: false,
                satisfied: false,
                score: Some(Score::parse(2)?),
                comment: Some(text("油烟问题依旧")?),
            },
        )
        .await?;
        self.step(
            t,
            30,
            "yangming-dispatch",
            C::Reopen {
                reason: text("居民反映油烟问题未解决")?,
            },
        )
        .await?;
        self.step(
            t,
            20,
            "yangming-dispatch",
            C::BlowWhistle {
                departments: vec![city.clone()],
                lead: city.clone(),
                reason: text("城管中队督促安装油烟净化设备")?,
            },
        )
        .await?;
        self.step(
            t,
            8,
            "chengguan-qian",
            C::ReportIn {
                department: city.clone(),
                liaison: inspector.clone(),
            },
        )
        .await?;
        self.step(
            t,
            2880,
            "chengguan-qian",
            C::Finish {
                department: city.clone(),
                liaison: inspector.clone(),
                fixed: true,
                outcome: text("油烟净化器已安装并检测合格")?,
            },
        )
        .await?;
        self.step(
            t,
            10,
            "yangming-dispatch",
            C::Resolve {
                summary: text("油烟净化器已安装，夜间经营已规范")?,
            },
        )
        .await?;
        self.step(
            t,
            720,
            "walkin-yangming",
            C::RecordFeedback {
                resolved: true,
                satisfied: true,
                score: Some(Score::parse(5)?),
                comment: Some(text("现在安静了")?),
            },
        )
        .await?;
        self.step(
            t,
            1,
            "walkin-yangming",
            C::Close {
                reason: CloseReason::Feedback,
            },
        )
        .await?;
        Ok(t)
    }

    /// 海棠街道府街社区: tiles falling from a facade, urgent: the whistle skips the
    /// call-up; the report-in deadline passes, supervision opens; no feedback in time.
    async fn falling_facade(&self) -> anyhow::Result<TicketId> {
        let t = TicketId::new_random();
        let zhujian = id::<DepartmentId>("zhujian")?;
        let wuye = id::<DepartmentId>("wuye")?;
        self.begin(125);
        self.step(
            t,
            0,
            "fujie-grid-1",
            C::Receive(Received {
                channel: Channel::GridWorker,
                reporter: ReporterContact::default(),
                sealed_reporter: None,
                location: Self::location(
                    "shizhong",
                    "haitang",
                    "fujie",
                    Some("fujie-01"),
                    "府街老院落12幢",
                )?,
                category: Category::BuildingSafety,
                urgency: Urgency::Urgent,
                description: text("12幢外墙瓷砖脱落，楼下是儿童游乐区")?,
                source: None,
            }),
        )
        .await?;
        self.step(
            t,
            2,
            "fujie-zhou",
            C::Acknowledge {
                reply: text("已拉警戒线，立即上报")?,
            },
        )
        .await?;
        self.step(
            t,
            3,
            "haitang-dispatch",
            C::BlowWhistle {
                departments: vec![zhujian.clone(), wuye.clone()],
                lead: zhujian.clone(),
                reason: text("急事议决：住建牵头排险，物业配合")?,
            },
        )
        .await?;
        let whistle_at = self.clock.now();
        self.step(
            t,
            8,
            "wuye-ma",
            C::ReportIn {
                department: wuye.clone(),
                liaison: id("wuye-ma")?,
            },
        )
        .await?;
        self.step(
            t,
            30,
            "sla-engine",
            C::RecordBreach {
                clock: SlaClock::ReportIn,
                department: Some(zhujian.clone()),
                due_at: whistle_at + Duration::minutes(30),
                policy_version: "2026.1".into(),
            },
        )
        .await?;
        self.step(
            t,
            1,
            "shizhong-supervisor",
            C::OpenSupervision {
                level: SupervisionLevel::District,
                department: Some(zhujian.clone()),
                reason: text("住建超过30分钟未报到")?,
            },
        )
        .await?;
        self.step(
            t,
            5,
            "zhujian-liu",
            C::ReportIn {
                department: zhujian.clone(),
                liaison: id("zhujian-liu")?,
            },
        )
        .await?;
        self.step(
            t,
            20,
            "zhujian-liu",
            C::NoteProgress {
                department: zhujian.clone(),
                liaison: id("zhujian-liu")?,
                note: text("到场排险，清除松动瓷砖")?,
                on_site: true,
            },
        )
        .await?;
        self.step(
            t,
            60,
            "wuye-ma",
            C::Finish {
                department: wuye.clone(),
                liaison: id("wuye-ma")?,
                fixed: true,
                outcome: text("游乐区已临时封闭")?,
            },
        )
        .await?;
        self.step(
            t,
            100,
            "zhujian-liu",
            C::Finish {
                department: zhujian.clone(),
                liaison: id("zhujian-liu")?,
                fixed: true,
                outcome: text("松动瓷砖已全部清除，外墙加设防护网")?,
            },
        )
        .await?;
        self.step(
            t,
            10,
            "haitang-dispatch",
            C::Resolve {
                summary: text("外墙险情已排除")?,
            },
        )
        .await?;
        self.step(
            t,
            4320,
            "haitang-dispatch",
            C::Close {
                reason: CloseReason::NoFeedback,
            },
        )
        .await?;
        Ok(t)
    }

    /// Tickets from the last few minutes, left where the stages pick them up.
    async fn open_tickets(&self) -> anyhow::Result<Vec<TicketId>> {
        let now = Utc::now();
        let complaint = |channel, location, category, urgency, description: &str| {
            Ok::<_, anyhow::Error>(C::Receive(Received {
                channel,
                reporter: ReporterContact::default(),
                sealed_reporter: None,
                location,
                category,
                urgency,
                description: text(description)?,
                source: None,
            }))
        };

        // 河涧里: rubbish piling up, just in; the community has five minutes to answer.
        let rubbish = TicketId::new_random();
        self.clock.set(now - Duration::minutes(2));
        self.step(
            rubbish,
            0,
            "hotline-operator-07",
            complaint(
                Channel::Hotline,
                Self::location(
                    "haigang",
                    "wenhualu",
                    "hejianli",
                    None,
                    "河涧里小区5号楼北侧",
                )?,
                Category::Sanitation,
                Urgency::Minor,
                "垃圾桶满溢两天无人清运，气味很大",
            )?,
        )
        .await?;

        // 新城市 (阳明街道 confirms every whistle): a burst pipe, called up a moment ago.
        let pipe = TicketId::new_random();
        self.clock.set(now - Duration::minutes(9));
        self.step(
            pipe,
            0,
            "xinchengshi-grid-4",
            complaint(
                Channel::GridWorker,
                Self::location(
                    "yuyao",
                    "yangming",
                    "xinchengshi",
                    Some("xinchengshi-04"),
                    "新城市小区12幢地下车库",
                )?,
                Category::WaterPowerPipes,
                Urgency::Important,
                "地下车库供水管爆裂，积水约十厘米，已关闭单元总阀",
            )?,
        )
        .await?;
        self.step(
            pipe,
            2,
            "xinchengshi-sun",
            C::Acknowledge {
                reply: text("已收到，社区人员已到现场")?,
            },
        )
        .await?;
        self.step(
            pipe,
            4,
            "xinchengshi-sun",
            C::CallUp {
                reason: text("主管道维修需水务部门，社区无法处理")?,
            },
        )
        .await?;

        // 茶坊 (通江街道 whistles automatically): cars blocking the fire lane.
        let parking = TicketId::new_random();
        self.clock.set(now - Duration::minutes(6));
        self.step(
            parking,
            0,
            "chafang-resident",
            complaint(
                Channel::Online,
                Self::location(
                    "shizhong",
                    "tongjiang",
                    "chafang",
                    None,
                    "茶坊社区菜市场东门",
                )?,
                Category::Parking,
                Urgency::Major,
                "车辆长期占用消防通道，救护车进不来",
            )?,
        )
        .await?;
        self.step(
            parking,
            1,
            "chafang-li",
            C::Acknowledge {
                reply: text("已收到，社区网格员前往劝离")?,
            },
        )
        .await?;
        self.step(
            parking,
            3,
            "chafang-li",
            C::CallUp {
                reason: text("劝离无效，需城管执法")?,
            },
        )
        .await?;
        Ok(vec![rubbish, pipe, parking])
    }
}

/// The accounts the consoles offer for one-click sign-in when `serve` runs with demo data:
/// one or more per role, named after the people of the demo tickets.
pub fn accounts() -> Vec<whistle_api::routes::session::DemoAccount> {
    use whistle_api::Role;
    [
        (
            "operator-hotline",
            "hotline-zhou",
            Role::Operator,
            "city",
            "12345热线 周",
        ),
        (
            "grid-hongqili",
            "hongqili-grid-ma",
            Role::GridWorker,
            "community:hongqili",
            "红旗里社区 网格员 马",
        ),
        (
            "community-hongqili",
            "hongqili-li",
            Role::Community,
            "community:hongqili",
            "红旗里社区 李",
        ),
        (
            "community-hejianli",
            "hejianli-zhang",
            Role::Community,
            "community:hejianli",
            "河涧里社区 张",
        ),
        (
            "community-xinchengshi",
            "xinchengshi-xu",
            Role::Community,
            "community:xinchengshi",
            "新城市社区 徐",
        ),
        (
            "street-wenhualu",
            "wenhualu-dispatch",
            Role::Street,
            "street:wenhualu",
            "文化路街道 调度",
        ),
        (
            "street-yangming",
            "yangming-dispatch",
            Role::Street,
            "street:yangming",
            "阳明街道 调度",
        ),
        (
            "street-tongjiang",
            "tongjiang-dispatch",
            Role::Street,
            "street:tongjiang",
            "通江街道 调度",
        ),
        (
            "liaison-zhujian-wang",
            "zhujian-wang",
            Role::Liaison,
            "department:zhujian",
            "住建 王",
        ),
        (
            "liaison-zhujian-liu",
            "zhujian-liu",
            Role::Liaison,
            "department:zhujian",
            "住建 刘",
        ),
        (
            "liaison-huanwei-zhao",
            "huanwei-zhao",
            Role::Liaison,
            "department:huanwei",
            "环卫 赵",
        ),
        (
            "liaison-chengguan-qian",
            "chengguan-qian",
            Role::Liaison,
            "department:chengguan",
            "城管中队 钱",
        ),
        (
            "liaison-paichusuo-sun",
            "paichusuo-sun",
            Role::Liaison,
            "department:paichusuo",
            "派出所 孙",
        ),
        (
            "supervisor-city",
            "city-duban",
            Role::Supervisor,
            "city",
            "市督办",
        ),
        (
            "supervisor-haigang",
            "haigang-duban",
            Role::Supervisor,
            "district:haigang",
            "海港区督办",
        ),
    ]
    .into_iter()
    .map(
        |(name, subject, role, scope, label)| whistle_api::routes::session::DemoAccount {
            name: name.to_owned(),
            subject: subject.to_owned(),
            role,
            scope: scope.to_owned(),
            label: label.to_owned(),
        },
    )
    .collect()
}
