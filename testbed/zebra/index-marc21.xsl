<?xml version="1.0" encoding="UTF-8"?>
<!-- Bib-1 indexes for MARC21 records stored as MARCXML (Zebra DOM filter extract). -->
<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:z="http://indexdata.com/zebra-2.0"
                xmlns:marc="http://www.loc.gov/MARC21/slim"
                version="1.0">
  <xsl:include href="common.xsl"/>
  <xsl:output indent="no" method="xml" version="1.0" encoding="UTF-8"/>
  <xsl:template match="text()"/>

  <xsl:template match="/">
    <xsl:apply-templates select="//marc:record"/>
  </xsl:template>

  <xsl:template match="marc:record">
    <z:record z:type="update">
      <xsl:if test="normalize-space(marc:controlfield[@tag='001']) != ''">
        <xsl:attribute name="z:id"><xsl:value-of select="normalize-space(marc:controlfield[@tag='001'])"/></xsl:attribute>
      </xsl:if>
      <xsl:call-template name="local-number"/>
      <xsl:call-template name="last-modified"/>
      <xsl:for-each select="marc:datafield[@tag='245']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:w Title:p'"/>
          <xsl:with-param name="codes" select="'abnp'"/></xsl:call-template>
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:s'"/>
          <xsl:with-param name="codes" select="'a'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='130' or @tag='240' or @tag='246' or @tag='730' or @tag='740'
                            or (@tag='880' and starts-with(marc:subfield[@code='6'], '245'))
                            or (@tag='880' and starts-with(marc:subfield[@code='6'], '246'))]">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:w Title:p'"/>
          <xsl:with-param name="codes" select="'abnp'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='100' or @tag='700'
                            or (@tag='880' and (starts-with(marc:subfield[@code='6'], '100')
                                                or starts-with(marc:subfield[@code='6'], '700')))]">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Author:w Author:p Personal-name:w Personal-name:p'"/>
          <xsl:with-param name="codes" select="'abcq'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='110' or @tag='111' or @tag='710' or @tag='711'
                            or (@tag='880' and (starts-with(marc:subfield[@code='6'], '110')
                                                or starts-with(marc:subfield[@code='6'], '710')))]">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Author:w Author:p'"/>
          <xsl:with-param name="codes" select="'abcdn'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='020']/marc:subfield[@code='a']">
        <xsl:call-template name="stdnum"><xsl:with-param name="name" select="'ISBN'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='022']/marc:subfield[@code='a']">
        <xsl:call-template name="stdnum"><xsl:with-param name="name" select="'ISSN'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[(@tag &gt;= 600 and @tag &lt;= 655)
                            or (@tag='880' and starts-with(marc:subfield[@code='6'], '6'))]">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Subject-heading:w Subject-heading:p'"/>
          <xsl:with-param name="codes" select="'abcdvxyz'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='260' or @tag='264'
                            or (@tag='880' and (starts-with(marc:subfield[@code='6'], '260')
                                                or starts-with(marc:subfield[@code='6'], '264')))]">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Publisher:w Publisher:p'"/>
          <xsl:with-param name="codes" select="'b'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:choose>
        <xsl:when test="translate(substring(marc:controlfield[@tag='008'], 8, 4), '0123456789', '') = ''
                        and string-length(marc:controlfield[@tag='008']) &gt;= 11">
          <xsl:call-template name="year">
            <xsl:with-param name="text" select="substring(marc:controlfield[@tag='008'], 8, 4)"/>
          </xsl:call-template>
        </xsl:when>
        <xsl:otherwise>
          <xsl:call-template name="year">
            <xsl:with-param name="text" select="(marc:datafield[@tag='260' or @tag='264']/marc:subfield[@code='c'])[1]"/>
          </xsl:call-template>
        </xsl:otherwise>
      </xsl:choose>
      <xsl:call-template name="any"/>
    </z:record>
  </xsl:template>
</xsl:stylesheet>
