// The gateway's operational events -> a Slack incoming-webhook message (README.md in
// this directory). Subscribe with sources = ["gateway"].
// Strings are joined with +: written into the TOML file, a template literal placeholder
// of one name would be read as an environment variable.
function handler(request) {
  const event = request.body;
  const d = event.data || {};
  const who = d.subscriber ? d.subscriber.name : d.source;
  const titles = {
    "subscriber.disabled": "Subscriber " + who + " was disabled",
    "subscriber.circuit_opened": "Subscriber " + who + " is failing: circuit opened",
    "subscriber.circuit_closed": "Subscriber " + who + " recovered: circuit closed",
    "delivery.dead": "A delivery to " + who + " was given up",
    "source.signature_failures_spiking": "Source " + who + ": signature failures spiking",
    "source.signature_failures_recovered": "Source " + who + ": signature failures back to normal",
    "backlog.growing": "Subscriber " + who + ": backlog growing",
    "backlog.recovered": "Subscriber " + who + ": backlog back to normal",
  };
  const title = titles[event.type] || event.type + ": " + who;
  const facts = [];
  if (d.reason) facts.push(["Reason", d.reason]);
  if (d.failing_since) facts.push(["Failing since", d.failing_since]);
  if (d.event_type) facts.push(["Event", d.source + " " + d.event_type]);
  if (d.attempts) facts.push(["Attempts", String(d.attempts)]);
  if (d.last_attempt) {
    const last = d.last_attempt;
    facts.push(["Last attempt", [last.outcome, last.status_code].filter(Boolean).join(" ")]);
  }
  if (d.failures !== undefined) facts.push(["Failures", d.failures + " in " + d.window_seconds + " s"]);
  if (d.backlog !== undefined) facts.push(["Waiting", d.backlog + " deliveries"]);
  facts.push(["At", event.timestamp]);
  const blocks = [
    { type: "header", text: { type: "plain_text", text: title.slice(0, 150) } },
    {
      type: "section",
      fields: facts.map(([name, value]) => ({ type: "mrkdwn", text: "*" + name + "*\n" + value })),
    },
  ];
  const links = d.links || {};
  const url = links.subscriber || links.event || links.sources;
  if (url) {
    blocks.push({
      type: "actions",
      elements: [{ type: "button", text: { type: "plain_text", text: "Open in the console" }, url }],
    });
  }
  return { body: { text: title, blocks } };
}
